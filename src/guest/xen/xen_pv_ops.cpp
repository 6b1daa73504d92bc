// SPDX-License-Identifier: MIT
// Entry writes, page-table hooks, CR3 and TLB pv-ops of the Xen PV guest (mmu_pv.c). The
// whole-tree pin/unpin and the exit path are in xen_pgd_pin.cpp.
#include "guest/xen/xen_pv_ops.hpp"

#include <string>

#include "common/error.hpp"
#include "guest/kernel_core.hpp"
#include "guest/tlb_policy.hpp"

namespace pib::guest {

namespace {
// PAGE_KERNEL and PAGE_KERNEL_RO as Linux passes them (Xen adds what it needs).
constexpr uint64_t kPageKernel =
    ptflags::kPresent | ptflags::kRw | ptflags::kAccessed | ptflags::kDirty | ptflags::kNx;
constexpr uint64_t kPageKernelRo = ptflags::kPresent | ptflags::kAccessed | ptflags::kNx;
// Xen's own pgd slots (HYPERVISOR_VIRT_START to _END): Xen's tables, not the guest's.
constexpr uint64_t kXenFirstSlot = 256;
constexpr uint64_t kXenLastSlot = 271;

void check(int64_t rc, const char* what) {
  if (rc != abi::err::kOk) {
    model_bug(std::string("guest ") + what + " failed: " + std::string(abi::error_name(rc)));
  }
}
}  // namespace

XenPvOps::XenPvOps(abi::HypervisorPort& port, abi::StartInfo start_info, LinuxGeneration generation)
    : port_(port),
      si_(std::move(start_info)),
      generation_(generation),
      xen_cr3_(si_.vcpus, si_.pt_base),
      xen_current_cr3_(si_.vcpus, si_.pt_base),
      in_user_(si_.vcpus, false) {}

BootLayout XenPvOps::boot_layout() const {
  BootLayout l;
  l.nr_pages = si_.nr_pages;
  l.vcpus = si_.vcpus;
  l.swapper_pgd = si_.pt_base;
  l.first_free = si_.first_free_pfn;
  l.direct_map_base = si_.direct_map_base;
  return l;
}

VcpuId XenPvOps::cpu() const {
  return core_->cpu();
}

void XenPvOps::attach(KernelCore& core) {
  core_ = &core;
  batches_.clear();
  for (VcpuId v = 0; v < si_.vcpus; ++v) {
    batches_.emplace_back(port_, core.ledger(), v);
    batches_.back().set_kernel(&core);
  }
  pending_virqs_.assign(si_.vcpus, 0);
  timer_deadline_.assign(si_.vcpus, kNoTimer);
  // xen_mark_init_mm_pinned: the builder's tables are validated and pinned as a tree.
  PageAllocator& pages = core.pages();
  auto mark = [&](Pfn pfn, PtLevel level) {
    pages.page(pfn).pinned = true;
    pages.page(pfn).pt_level = level;
  };
  mark(si_.pt_base, PtLevel::kPgd);
  for (uint64_t slot = 0; slot < kEntriesPerTable; ++slot) {
    const hw::Pte e4 = core.read_entry(EntryRef{si_.pt_base, slot});
    if (!e4.present() || slot < kUserPgdSlots || (slot >= kXenFirstSlot && slot <= kXenLastSlot))
      continue;
    const Pfn l3 = entry_pfn(e4);
    mark(l3, PtLevel::kPud);
    for (uint64_t i = 0; i < kEntriesPerTable; ++i) {
      const hw::Pte e3 = core.read_entry(EntryRef{l3, i});
      if (!e3.present()) continue;
      const Pfn l2 = entry_pfn(e3);
      mark(l2, PtLevel::kPmd);
      for (uint64_t j = 0; j < kEntriesPerTable; ++j) {
        const hw::Pte e2 = core.read_entry(EntryRef{l2, j});
        if (e2.present()) mark(entry_pfn(e2), PtLevel::kPte);
      }
    }
  }
  // level3_user_vsyscall: the L3 every user pgd links at the vsyscall slot, pinned at boot.
  vsyscall_l3_ = core.alloc_page(true);
  mark(vsyscall_l3_, PtLevel::kPud);
  set_pfn_prot(vsyscall_l3_, false, 0);
  pin_pagetable_pfn(abi::kMmuextPinL3Table, vsyscall_l3_);
  batch().flush();
  core.vsyscall_entry = make_entry(vsyscall_l3_, ptflags::kTable);
}

// ---- execution ----------------------------------------------------------------------------

hw::MemResult XenPvOps::access(VcpuId vcpu, const hw::MemRequest& request) {
  const bool user = request.mode == hw::Mode::kUser;
  if (user != in_user_.at(vcpu)) {
    model_bug(std::string("guest ") + (user ? "user" : "kernel") + " access on vCPU " +
              std::to_string(vcpu) + " while it runs in the other mode");
  }
  const hw::MemResult r = port_.guest_access(vcpu, request);
  if (core_ != nullptr) {
    core_->interrupt_window(vcpu);
    // An event taken in user mode was delivered to the kernel; its handler returns to the
    // interrupted user code with HYPERVISOR_iret (unless the access faulted: the kernel then
    // goes on to handle the fault).
    if (user && r.ok && !in_user_[vcpu]) return_to_user(vcpu);
  }
  return r;
}

hw::LoadRun XenPvOps::load_run(VcpuId vcpu, Vaddr va, uint32_t count, hw::Mode mode,
                               uint64_t stop_mask, uint64_t* out) {
  const bool user = mode == hw::Mode::kUser;
  if (user != in_user_.at(vcpu)) {
    model_bug(std::string("guest ") + (user ? "user" : "kernel") + " access on vCPU " +
              std::to_string(vcpu) + " while it runs in the other mode");
  }
  const hw::LoadRun r = port_.guest_load_run(vcpu, va, count, stop_mask, out);
  if (core_ != nullptr) {  // the last load's window, as access() takes it
    core_->interrupt_window(vcpu);
    if (user && r.last.ok && !in_user_[vcpu]) return_to_user(vcpu);
  }
  return r;
}

void XenPvOps::enter_kernel(VcpuId vcpu) {
  if (!in_user_.at(vcpu)) return;
  check(port_.switch_guest_mode(vcpu, true), "syscall entry");
  in_user_[vcpu] = false;
  if (core_ != nullptr) core_->interrupt_window(vcpu);
}

void XenPvOps::return_to_user(VcpuId vcpu) {
  if (in_user_.at(vcpu)) return;
  if (core_ != nullptr) core_->interrupt_window(vcpu);  // exit to user mode takes pending events
  check(port_.switch_guest_mode(vcpu, false), "iret to user mode");
  in_user_[vcpu] = true;
}

// ---- time -----------------------------------------------------------------------------------

uint64_t XenPvOps::clock_ns(VcpuId vcpu) const {
  return port_.system_time_ns(vcpu);
}

void XenPvOps::set_timer(VcpuId vcpu, uint64_t deadline_ns) {
  check(port_.vcpu_op(vcpu, abi::kVcpuOpSetSingleshotTimer, deadline_ns), "set_singleshot_timer");
  timer_deadline_.at(vcpu) = deadline_ns;
}

bool XenPvOps::timer_interrupt_pending(VcpuId vcpu) {
  // evtchn_upcall_pending in the vCPU's shared info, and the event bits behind it.
  const uint32_t taken = port_.take_pending_virqs(vcpu);
  if (taken != 0) in_user_.at(vcpu) = false;  // the upcall runs in the kernel
  pending_virqs_.at(vcpu) |= taken;
  return (pending_virqs_[vcpu] & (1U << abi::kVirqTimer)) != 0;
}

void XenPvOps::take_timer_interrupt(VcpuId vcpu) {
  pending_virqs_.at(vcpu) &= ~(1U << abi::kVirqTimer);
}

void XenPvOps::fault_delivered(VcpuId vcpu) {
  in_user_.at(vcpu) = false;  // Xen's bounce frame entered the guest kernel
}

// ---- entries --------------------------------------------------------------------------------

hw::Pte XenPvOps::make_entry(Pfn pfn, uint64_t flags) const {
  return hw::Pte{(pfn_to_mfn(pfn).value << kPageShift) | flags};
}

Pfn XenPvOps::entry_pfn(hw::Pte entry) const {
  return port_.machine_to_phys(Mfn{(entry.raw() & ptflags::kAddrMask) >> kPageShift});
}

Maddr XenPvOps::entry_maddr(EntryRef e) const {
  return Maddr{(pfn_to_mfn(e.table).value << kPageShift) + e.index * 8};
}

bool XenPvOps::page_pinned(Pfn table) const {
  return core_->pages().page(table).pinned;
}

void XenPvOps::set_pte(EntryRef e, hw::Pte val) {
  core_->ledger().charge(sim::Event::kGuestSetPte);
  const abi::MmuUpdate u = abi::make_mmu_update(entry_maddr(e), val.raw());
  if (batch().lazy() == LazyMode::kMmu) {  // xen_batched_set_pte
    batch().extend_mmu_update(u);
    batch().issue(LazyMode::kMmu);
    return;
  }
  uint32_t done = 0;
  check(port_.mmu_update(cpu(), std::span<const abi::MmuUpdate>(&u, 1), &done, abi::kDomidSelf),
        "set_pte mmu_update");
  core_->interrupt_window(cpu());
}

void XenPvOps::set_upper_hyper(EntryRef e, hw::Pte val) {
  batch().extend_mmu_update(abi::make_mmu_update(entry_maddr(e), val.raw()));
  batch().issue(LazyMode::kMmu);
}

void XenPvOps::set_pmd(EntryRef e, hw::Pte val) {
  core_->ledger().charge(sim::Event::kGuestSetPmd);
  if (!page_pinned(e.table)) {
    core_->write_entry_native(e, val);
    return;
  }
  set_upper_hyper(e, val);
}

void XenPvOps::set_pud(EntryRef e, hw::Pte val) {
  core_->ledger().charge(sim::Event::kGuestSetPud);
  if (!page_pinned(e.table)) {
    core_->write_entry_native(e, val);
    return;
  }
  set_upper_hyper(e, val);
}

void XenPvOps::set_p4d(const Mm& mm, uint64_t slot, hw::Pte val) {
  core_->ledger().charge(sim::Event::kGuestSetP4d);
  const EntryRef kernel{mm.pgd, slot};
  const bool has_user = slot < kUserPgdSlots && mm.user_pgd != kInvalidPfn;
  const EntryRef user{mm.user_pgd, slot};
  if (!page_pinned(mm.pgd)) {
    core_->write_entry_native(kernel, val);
    if (has_user) core_->write_entry_native(user, val);
    return;
  }
  // Pinned: kernel and user slot as two requests of one mmu_update.
  batch().extend_mmu_update(abi::make_mmu_update(entry_maddr(kernel), val.raw()));
  if (has_user) batch().extend_mmu_update(abi::make_mmu_update(entry_maddr(user), val.raw()));
  batch().issue(LazyMode::kMmu);
}

hw::Pte XenPvOps::ptep_get_and_clear(EntryRef e, bool full) {
  const Vaddr va = core_->entry_va(e);
  if (full && page_pinned(e.table)) {
    // A table kept validated (its source never unpins it): the teardown clears it through
    // Xen, batched, as XenoLinux's queued L1 updates did; a plain store would trap.
    const hw::Pte old{core_->kload(va)};
    batch().extend_mmu_update(abi::make_mmu_update(entry_maddr(e), 0));
    batch().issue(LazyMode::kMmu);
    return old;
  }
  if (full) {  // native_local_ptep_get_and_clear: read, then a plain store
    const hw::Pte old{core_->kload(va)};
    core_->kstore(va, 0);
    return old;
  }
  // A native xchg: on a pinned (read-only) L1 it faults and Xen emulates it.
  return hw::Pte{core_->kaccess(hw::MemRequest{va, hw::MemOp::kXchg, hw::Mode::kSupervisor, 0})};
}

std::optional<uint32_t> XenPvOps::take_present_run(EntryRef first, uint64_t end,
                                                   hw::TakenWord* taken) {
  // A pinned table is cleared through Xen (ptep_get_and_clear). Without a clock no event is
  // ever pending (only Xen's timer softirq raises one), so no window in between has work.
  if (page_pinned(first.table) || core_->ledger().clock_on()) return std::nullopt;
  if (in_user_.at(cpu())) model_bug("guest kernel teardown while the vCPU runs in user mode");
  const auto count = static_cast<uint32_t>(end - first.index);
  const hw::TakeRun run =
      port_.guest_take_run(cpu(), core_->entry_va(first), count, ptflags::kPresent, taken);
  if (!run.last.ok) model_bug("guest teardown of a page table faulted");
  return run.taken;
}

void XenPvOps::ptep_set_wrprotect(EntryRef e) {
  core_->kaccess(
      hw::MemRequest{core_->entry_va(e), hw::MemOp::kAndNot, hw::Mode::kSupervisor, ptflags::kRw});
}

void XenPvOps::ptep_modify_prot(EntryRef e, hw::Pte val) {
  core_->ledger().charge(sim::Event::kGuestSetPte);
  // start: just reads; commit: an MMU_PT_UPDATE_PRESERVE_AD request.
  batch().extend_mmu_update(
      abi::make_mmu_update(entry_maddr(e), val.raw(), abi::kMmuPtUpdatePreserveAd));
  batch().issue(LazyMode::kMmu);
}

// ---- page-table page hooks ------------------------------------------------------------------

void XenPvOps::set_pfn_prot(Pfn pfn, bool writable, uint64_t uvmf_flags) {
  batch().update_va_mapping(core_->direct_va(pfn),
                            make_entry(pfn, writable ? kPageKernel : kPageKernelRo), uvmf_flags);
}

void XenPvOps::pin_pagetable_pfn(uint32_t cmd, Pfn pfn) {
  batch().mmuext_op(abi::MmuextOp{cmd, pfn_to_mfn(pfn).value, 0});
}

void XenPvOps::do_pin(uint32_t cmd, Pfn pfn) {
  batch().extend_mmuext_op(abi::MmuextOp{cmd, pfn_to_mfn(pfn).value, 0});
}

void XenPvOps::alloc_pt(const Mm& mm, Pfn page, PtLevel level) {
  // xen_alloc_ptpage: nothing while the mm is under construction (unpinned), nor for a table its
  // source hands out validated.
  if (!page_pinned(mm.pgd) || core_->pages().page(page).kept_pinned) return;
  dma_pool_->before_table_pin(page);
  Page& pg = core_->pages().page(page);
  const bool was_pinned = pg.pinned;
  pg.pinned = true;
  set_pfn_prot(page, false, 0);
  const bool pin =
      level == PtLevel::kPte && (generation_ == LinuxGeneration::kLinux4 || !was_pinned);
  if (pin) pin_pagetable_pfn(abi::kMmuextPinL1Table, page);
  batch().issue(LazyMode::kMmu);
}

void XenPvOps::release_pt(Pfn page, PtLevel level) {
  Page& pg = core_->pages().page(page);
  if (!pg.pinned || pg.kept_pinned) return;  // a kept table goes back to its source pinned
  if (level == PtLevel::kPte) pin_pagetable_pfn(abi::kMmuextUnpinTable, page);
  set_pfn_prot(page, true, 0);
  batch().issue(LazyMode::kMmu);
  pg.pinned = false;
  dma_pool_->after_table_release(page);
}

void XenPvOps::pgd_alloc(Mm& mm) {
  PtPageSource& source = core_->pt_pages();
  const Pfn user = source.alloc(TableKind::kUserPgd, mm);
  core_->pages().page(mm.pgd).user_pgd = user;
  core_->pages().page(user).pt_level = PtLevel::kPgd;
  mm.user_pgd = user;
  // The vsyscall page's L3 in the user pgd; a constructed one has it.
  if (!source.constructed(TableKind::kUserPgd)) construct_table(*core_, user, TableKind::kUserPgd);
}

void XenPvOps::pgd_free(Mm& mm) {
  if (mm.user_pgd == kInvalidPfn) return;
  Page& pg = core_->pages().page(mm.user_pgd);
  if (pg.pinned && !pg.kept_pinned) model_bug("freeing a pinned user pgd");
  PtPageSource& source = core_->pt_pages();
  if (!source.constructed(TableKind::kUserPgd)) {
    destruct_table(*core_, mm.user_pgd, TableKind::kUserPgd);
  }
  source.free(mm.user_pgd, TableKind::kUserPgd);
  core_->pages().page(mm.pgd).user_pgd = kInvalidPfn;
  mm.user_pgd = kInvalidPfn;
}

// ---- the page-table pool (PtPoolPort) -------------------------------------------------------

void XenPvOps::pool_op(uint32_t cmd, const std::vector<Pfn>& pages) {
  if (pages.empty()) return;
  // Queued work that may involve these frames goes first.
  batch().flush();
  std::vector<abi::MmuextOp> ops;
  ops.reserve(pages.size());
  for (const Pfn p : pages) ops.push_back(abi::MmuextOp{cmd, pfn_to_mfn(p).value, 0});
  uint32_t done = 0;
  check(port_.mmuext_op(cpu(), ops, &done, abi::kDomidSelf), "page-table pool operation");
  core_->interrupt_window(cpu());
}

void XenPvOps::pool_add(const std::vector<Pfn>& pages) {
  std::vector<Pfn> todo;
  for (const Pfn p : pages) {
    Page& pg = core_->pages().page(p);
    if (pg.dma_pooled) continue;
    pg.dma_pooled = true;
    todo.push_back(p);
  }
  pool_op(abi::kMmuextPtPoolAdd, todo);
}

void XenPvOps::pool_remove(const std::vector<Pfn>& pages) {
  std::vector<Pfn> todo;
  for (const Pfn p : pages) {
    Page& pg = core_->pages().page(p);
    if (!pg.dma_pooled) continue;
    pg.dma_pooled = false;
    todo.push_back(p);
  }
  pool_op(abi::kMmuextPtPoolRemove, todo);
}

// ---- CR3 and TLB ------------------------------------------------------------------------------

void XenPvOps::write_cr3(const Mm* mm) {
  core_->ledger().charge(sim::Event::kGuestWriteCr3);
  const VcpuId v = cpu();
  const Pfn pgd = mm != nullptr ? mm->pgd : si_.pt_base;
  const Pfn user = mm != nullptr ? mm->user_pgd : kInvalidPfn;
  xen_cr3_.at(v) = pgd;
  // xen_current_cr3 follows once the batch has actually reached Xen.
  batch().callback([this, v, pgd] { xen_current_cr3_.at(v) = pgd; });
  batch().extend_mmuext_op(abi::MmuextOp{abi::kMmuextNewBaseptr, pfn_to_mfn(pgd).value, 0});
  batch().extend_mmuext_op(abi::MmuextOp{abi::kMmuextNewUserBaseptr,
                                         user != kInvalidPfn ? pfn_to_mfn(user).value : 0, 0});
  batch().issue(LazyMode::kCpu);
}

void XenPvOps::flush_tlb_local() {
  batch().mmuext_op(abi::MmuextOp{abi::kMmuextTlbFlushLocal, 0, 0});
  batch().issue(LazyMode::kMmu);
}

void XenPvOps::flush_tlb_one_user(Vaddr va) {
  batch().mmuext_op(abi::MmuextOp{abi::kMmuextInvlpgLocal, va.value, 0});
  batch().issue(LazyMode::kMmu);
}

void XenPvOps::flush_tlb_multi(uint64_t vcpumask, Vaddr start, Vaddr end) {
  if (vcpumask == 0) return;
  abi::MmuextOp op{abi::kMmuextTlbFlushMulti, 0, vcpumask};
  if (end != kTlbFlushAll && end - start <= kPageSize) {
    op.cmd = abi::kMmuextInvlpgMulti;
    op.arg1 = start.value;  // MMUEXT_INVLPG_MULTI's linear_addr: a raw word of the ABI
  }
  batch().mmuext_op(op);
  batch().issue(LazyMode::kMmu);
}

// ---- batching -----------------------------------------------------------------------------------

void XenPvOps::enter_lazy_mmu() {
  if (batch().lazy() != LazyMode::kNone) model_bug("nested lazy mode");
  batch().set_lazy(LazyMode::kMmu);
}

void XenPvOps::leave_lazy_mmu() {
  batch().flush();
  batch().set_lazy(LazyMode::kNone);
}

void XenPvOps::start_context_switch() {
  if (batch().lazy() == LazyMode::kMmu) leave_lazy_mmu();
  core_->irq_save(cpu());  // the scheduler switches with interrupts off
  batch().set_lazy(LazyMode::kCpu);
}

void XenPvOps::end_context_switch() {
  batch().flush();
  batch().set_lazy(LazyMode::kNone);
  core_->irq_restore(cpu());
}

}  // namespace pib::guest
