// SPDX-License-Identifier: MIT
// Pinning and unpinning a whole address space (__xen_pgd_pin, __xen_pgd_unpin) and the exit
// path that drops every vCPU's reference first (xen_exit_mmap, xen_drop_mm_ref). xen-pv-mmu.md B2.
#include "guest/kernel_core.hpp"
#include "guest/xen/xen_pv_ops.hpp"

namespace pib::guest {

template <typename Fn>
void XenPvOps::pgd_walk(Pfn pgd, Fn&& fn) {
  // User half only: slots below Xen's hole; depth first, each table before its children.
  // Every entry is read, empty or not (next_present loads the empty ones in runs).
  KernelCore& k = *core_;
  for (auto e4 = k.next_present(pgd, 0, kUserPgdSlots); e4.index < kUserPgdSlots;
       e4 = k.next_present(pgd, e4.index + 1, kUserPgdSlots)) {
    const Pfn l3 = entry_pfn(e4.entry);
    fn(l3, PtLevel::kPud);
    for (auto e3 = k.next_present(l3, 0); e3.index < kEntriesPerTable;
         e3 = k.next_present(l3, e3.index + 1)) {
      const Pfn l2 = entry_pfn(e3.entry);
      fn(l2, PtLevel::kPmd);
      for (auto e2 = k.next_present(l2, 0); e2.index < kEntriesPerTable;
           e2 = k.next_present(l2, e2.index + 1)) {
        fn(entry_pfn(e2.entry), PtLevel::kPte);
      }
    }
  }
  fn(pgd, PtLevel::kPgd);  // the top level last: its remap flushes the TLB
}

void XenPvOps::pin_page(Pfn page, PtLevel level) {
  Page& pg = core_->pages().page(page);
  if (pg.pinned) return;  // TestSetPagePinned
  pg.pinned = true;
  set_pfn_prot(page, false, level == PtLevel::kPgd ? abi::kUvmfTlbFlush : 0);
  if (level == PtLevel::kPte) {
    do_pin(abi::kMmuextPinL1Table, page);
    batch().callback([] {});  // xen_pte_unlock once the batch is through
  }
}

void XenPvOps::unpin_page(Pfn page, PtLevel level) {
  Page& pg = core_->pages().page(page);
  if (!pg.pinned || pg.kept_pinned) return;  // TestClearPagePinned; kept tables stay pinned
  pg.pinned = false;
  if (level == PtLevel::kPte) do_pin(abi::kMmuextUnpinTable, page);
  set_pfn_prot(page, true, level == PtLevel::kPgd ? abi::kUvmfTlbFlush : 0);
  if (level == PtLevel::kPte) batch().callback([] {});
}

void XenPvOps::pin_tree(Pfn pgd, Pfn user_pgd) {
  core_->ledger().charge(sim::Event::kGuestPgdPin);
  dma_pool_->before_tree_pin([&] {
    std::vector<Pfn> tree;
    pgd_walk(pgd, [&](Pfn p, PtLevel) { tree.push_back(p); });
    if (user_pgd != kInvalidPfn) tree.push_back(user_pgd);
    return tree;
  });
  pgd_walk(pgd, [this](Pfn p, PtLevel l) { pin_page(p, l); });
  do_pin(abi::kMmuextPinL4Table, pgd);
  if (user_pgd != kInvalidPfn) {
    pin_page(user_pgd, PtLevel::kPgd);
    do_pin(abi::kMmuextPinL4Table, user_pgd);
  }
  batch().issue(LazyMode::kNone);
}

void XenPvOps::unpin_tree(Pfn pgd, Pfn user_pgd) {
  core_->ledger().charge(sim::Event::kGuestPgdUnpin);
  do_pin(abi::kMmuextUnpinTable, pgd);
  if (user_pgd != kInvalidPfn) {
    do_pin(abi::kMmuextUnpinTable, user_pgd);
    unpin_page(user_pgd, PtLevel::kPgd);
  }
  std::vector<Pfn> tree;
  pgd_walk(pgd, [&](Pfn p, PtLevel l) {
    unpin_page(p, l);
    tree.push_back(p);
  });
  batch().issue(LazyMode::kNone);
  if (user_pgd != kInvalidPfn) tree.push_back(user_pgd);
  dma_pool_->after_tree_unpin(tree);
}

void XenPvOps::enter_mmap(Mm& mm) {
  // A kept pgd was pinned before anything was linked into it, and every table below it was
  // validated as it was linked: the tree is already what a pin would make it.
  if (core_->pages().page(mm.pgd).kept_pinned) return;
  pgd_pin(mm);
}

void XenPvOps::drop_mm_ref_this_cpu(const Mm& mm) {
  const VcpuId v = cpu();
  if (core_->loaded_mm(v) == &mm) core_->leave_mm(v);
  // A queued but unsent base-pointer switch may still name this pgd: send it now.
  if (xen_current_cr3_.at(v) == mm.pgd) batch().flush();
}

void XenPvOps::drop_mm_ref(const Mm& mm) {
  drop_mm_ref_this_cpu(mm);
  const VcpuId self = cpu();
  for (VcpuId v = 0; v < si_.vcpus; ++v) {
    if (v == self || xen_current_cr3_.at(v) != mm.pgd) continue;
    core_->ledger().charge(sim::Event::kGuestIpi);
    core_->set_cpu(v);  // the IPI handler runs on that vCPU, in its kernel
    // An exiting mm is loaded there only lazily: the vCPU idles in the kernel (it may still be
    // recorded as in user mode since its last task left), and stays there.
    enter_kernel(v);
    drop_mm_ref_this_cpu(mm);
    core_->set_cpu(self);
  }
}

void XenPvOps::exit_mmap(Mm& mm) {
  drop_mm_ref(mm);
  // Not pinned on an execve error path; a kept pgd stays pinned and the teardown clears the
  // tree through Xen.
  if (page_pinned(mm.pgd) && !core_->pages().page(mm.pgd).kept_pinned) pgd_unpin(mm);
}

}  // namespace pib::guest
