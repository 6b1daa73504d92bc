// SPDX-License-Identifier: MIT
// Suspend and resume around a save/restore (drivers/xen/manage.c do_suspend, which runs
// xen_pv_pre_suspend and xen_pv_post_suspend of arch/x86/xen/suspend_pv.c inside stop_machine,
// and xen_mm_pin_all/xen_mm_unpin_all of arch/x86/xen/mmu_pv.c).
//
// Why the pins: the toolstack rewrites machine frame numbers only in pages Xen reports as page
// tables. A root that is constructed but not in use (a process being built or torn down, or a
// pgd a page-table cache keeps ready) is an ordinary writable page to Xen; unless it is pinned
// for the save, it comes back holding the old domain's frames in its kernel half, and the first
// process to get it would have its pin refused (or, with unlucky frames, map someone else's).
#include "common/error.hpp"
#include "guest/kernel_core.hpp"
#include "guest/xen/xen_pv_ops.hpp"

namespace pib::guest {

namespace {
void check_suspend(int64_t rc) {
  if (rc != abi::err::kOk) {
    model_bug("guest HYPERVISOR_suspend failed: " + std::string(abi::error_name(rc)));
  }
}
}  // namespace

void XenPvOps::mm_pin_all() {
  for (const auto& [root, kind] : core_->pgd_list()) {
    Page& pg = core_->pages().page(root);
    if (pg.pinned) continue;  // in use (or kept pinned by its cache): Xen has it as a table
    // __xen_pgd_pin(&init_mm, pgd): the tree below it and, for a kernel pgd, its user pgd.
    pin_tree(root, kind == TableKind::kPgd ? pg.user_pgd : kInvalidPfn);
    pg.save_pinned = true;
    ++suspend_counts_.save_pinned;
  }
}

void XenPvOps::mm_unpin_all() {
  for (const auto& [root, kind] : core_->pgd_list()) {
    Page& pg = core_->pages().page(root);
    if (!pg.save_pinned) continue;
    if (!pg.pinned) model_bug("xen_mm_unpin_all: a save-pinned root is not pinned");
    unpin_tree(root, kind == TableKind::kPgd ? pg.user_pgd : kInvalidPfn);
    pg.save_pinned = false;
  }
}

void XenPvOps::pool_re_add() {
  // The guest's record of which frames it pooled describes the old domain's frames; the new
  // domain's pool is empty. Every page the guest had pooled goes back in, in one batch.
  std::vector<Pfn> pooled;
  for (uint64_t pfn = 0; pfn < si_.nr_pages; ++pfn) {
    Page& pg = core_->pages().page(Pfn{pfn});
    if (!pg.dma_pooled) continue;
    pg.dma_pooled = false;
    pooled.push_back(Pfn{pfn});
  }
  pool_add(pooled);
  suspend_counts_.pool_re_added += pooled.size();
}

void XenPvOps::suspend() {
  batch().flush();
  mm_pin_all();
  check_suspend(port_.sched_shutdown(cpu(), abi::kShutdownSuspend));
}

void XenPvOps::resume(const std::optional<abi::StartInfo>& restored) {
  if (restored) {
    // xen_build_mfn_list_list and the p2m the toolstack rewrote; machine entries the kernel
    // made once at boot are made again from it.
    si_.domid = restored->domid;
    si_.p2m = restored->p2m;
    core_->vsyscall_entry = make_entry(vsyscall_l3_, ptflags::kTable);
  }
  mm_unpin_all();
  if (restored) pool_re_add();
  // xen_timer_resume: Xen does not carry the one-shot timers over.
  for (VcpuId v = 0; v < si_.vcpus; ++v) {
    if (restored && timer_deadline_[v] != kNoTimer) set_timer(v, timer_deadline_[v]);
  }
}

}  // namespace pib::guest
