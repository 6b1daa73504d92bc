// SPDX-License-Identifier: MIT
#include "guest/native/native_pv_ops.hpp"

#include <string>

#include "common/error.hpp"
#include "guest/kernel_core.hpp"
#include "guest/tlb_policy.hpp"
#include "hw/pte.hpp"

namespace pib::guest {

namespace {
constexpr uint64_t div_up(uint64_t a, uint64_t b) {
  return (a + b - 1) / b;
}
constexpr uint64_t kDirectMapSlot = 273;  // page_offset_base 0xffff888000000000
constexpr uint64_t kDirectMapBase = 0xffff888000000000ULL;
constexpr uint64_t kKernData =
    ptflags::kPresent | ptflags::kRw | ptflags::kAccessed | ptflags::kDirty | ptflags::kNx;
}  // namespace

NativePvOps::NativePvOps(hw::Machine& machine) : machine_(machine) {
  auto& mem = machine.memory();
  const uint64_t pages = machine.params().frames;
  const uint64_t n1 = div_up(pages, kEntriesPerTable);
  const uint64_t n2 = div_up(n1, kEntriesPerTable);
  if (n2 > kEntriesPerTable) throw InputError("native boot: more than 512 GiB of memory");
  const uint64_t nr_pt = 2 + n2 + n1;
  if (pages < nr_pt + 16) {
    throw InputError("native boot: " + std::to_string(pages) + " frames are too few");
  }
  // Early boot runs before paging is set up for the kernel: physical writes.
  const uint64_t l4 = 0, l3 = 1, l2_0 = 2, l1_0 = 2 + n2;
  for (uint64_t f = 0; f < nr_pt; ++f) mem.zero_frame(Mfn{f});
  mem.write_entry(Mfn{l4}, kDirectMapSlot, (l3 << kPageShift) | ptflags::kKernelTable);
  for (uint64_t i = 0; i < n2; ++i) {
    mem.write_entry(Mfn{l3}, i, ((l2_0 + i) << kPageShift) | ptflags::kKernelTable);
  }
  for (uint64_t i = 0; i < n1; ++i) {
    mem.write_entry(Mfn{l2_0 + i / kEntriesPerTable}, i % kEntriesPerTable,
                    ((l1_0 + i) << kPageShift) | ptflags::kKernelTable);
  }
  for (uint64_t f = 0; f < pages; ++f) {
    mem.write_entry(Mfn{l1_0 + f / kEntriesPerTable}, f % kEntriesPerTable,
                    (f << kPageShift) | kKernData);
  }
  for (CpuId c = 0; c < machine.cpu_count(); ++c) machine.cpu(c).mmu().load_cr3(Mfn{l4}, true);
  layout_.nr_pages = pages;
  layout_.vcpus = machine.cpu_count();
  layout_.swapper_pgd = Pfn{l4};
  layout_.first_free = Pfn{nr_pt};
  layout_.direct_map_base = Vaddr{kDirectMapBase};
}

void NativePvOps::attach(KernelCore& core) {
  core_ = &core;
}

hw::MemResult NativePvOps::access(VcpuId vcpu, const hw::MemRequest& request) {
  const hw::MemResult r = machine_.cpu(vcpu).access(request);
  if (core_ != nullptr) core_->interrupt_window(vcpu);
  return r;
}

hw::LoadRun NativePvOps::load_run(VcpuId vcpu, Vaddr va, uint32_t count, hw::Mode mode,
                                  uint64_t stop_mask, uint64_t* out) {
  const hw::LoadRun r = machine_.cpu(vcpu).load_run(va, count, mode, stop_mask, out);
  if (core_ != nullptr) core_->interrupt_window(vcpu);  // the last load's window
  return r;
}

void NativePvOps::enter_kernel(VcpuId vcpu) {
  if (core_ != nullptr) core_->interrupt_window(vcpu);
}

void NativePvOps::return_to_user(VcpuId vcpu) {
  if (core_ != nullptr) core_->interrupt_window(vcpu);
}

// ---- time: the TSC and the local APIC timer in TSC-deadline mode ----------------------------

uint64_t NativePvOps::clock_ns(VcpuId vcpu) const {
  return static_cast<uint64_t>(machine_.cpu(vcpu).now_ns());
}

void NativePvOps::set_timer(VcpuId vcpu, uint64_t deadline_ns) {
  machine_.cpu(vcpu).set_timer_deadline(static_cast<double>(deadline_ns));
}

bool NativePvOps::timer_interrupt_pending(VcpuId vcpu) {
  return machine_.cpu(vcpu).timer_interrupt_pending();
}

void NativePvOps::take_timer_interrupt(VcpuId vcpu) {
  machine_.cpu(vcpu).disarm_timer();  // a deadline timer fires once
}

hw::Pte NativePvOps::make_entry(Pfn pfn, uint64_t flags) const {
  return hw::Pte{(pfn.value << kPageShift) | flags};
}
Pfn NativePvOps::entry_pfn(hw::Pte entry) const {
  return Pfn{(entry.raw() & ptflags::kAddrMask) >> kPageShift};
}

void NativePvOps::set_pte(EntryRef e, hw::Pte val) {
  core_->ledger().charge(sim::Event::kGuestSetPte);
  core_->write_entry_native(e, val);
}
void NativePvOps::set_pmd(EntryRef e, hw::Pte val) {
  core_->ledger().charge(sim::Event::kGuestSetPmd);
  core_->write_entry_native(e, val);
}
void NativePvOps::set_pud(EntryRef e, hw::Pte val) {
  core_->ledger().charge(sim::Event::kGuestSetPud);
  core_->write_entry_native(e, val);
}
void NativePvOps::set_p4d(const Mm& mm, uint64_t slot, hw::Pte val) {
  core_->ledger().charge(sim::Event::kGuestSetP4d);
  core_->write_entry_native(EntryRef{mm.pgd, slot}, val);
}

hw::Pte NativePvOps::ptep_get_and_clear(EntryRef e, bool full) {
  const Vaddr va = core_->entry_va(e);
  if (full) {  // the mm is going away: nobody else can be setting A/D bits
    const hw::Pte old{core_->kload(va)};
    core_->kstore(va, 0);
    return old;
  }
  return hw::Pte{core_->kaccess(hw::MemRequest{va, hw::MemOp::kXchg, hw::Mode::kSupervisor, 0})};
}

std::optional<uint32_t> NativePvOps::take_present_run(EntryRef first, uint64_t end,
                                                      hw::TakenWord* taken) {
  // The windows after each access take a pending timer interrupt. Without a clock the timer's
  // state cannot change during the run, so if none is pending now, none of them has work.
  hw::Cpu& cpu = machine_.cpu(core_->cpu());
  if (core_->ledger().clock_on() || cpu.timer_interrupt_pending()) return std::nullopt;
  const auto count = static_cast<uint32_t>(end - first.index);
  const hw::TakeRun run =
      cpu.take_run(core_->entry_va(first), count, hw::Mode::kSupervisor, ptflags::kPresent, taken);
  if (!run.last.ok) model_bug("native teardown of a page table faulted");
  return run.taken;
}

bool NativePvOps::copy_present_run(EntryRef first, uint64_t end, Pfn dst, hw::CopyWordFn fn,
                                   void* context) {
  hw::Cpu& cpu = machine_.cpu(core_->cpu());
  if (core_->ledger().clock_on() || cpu.timer_interrupt_pending()) return false;
  const auto count = static_cast<uint32_t>(end - first.index);
  const hw::CopyRun run =
      cpu.copy_run(core_->entry_va(first), core_->entry_va(EntryRef{dst, first.index}), count,
                   hw::Mode::kSupervisor, ptflags::kPresent, fn, context);
  if (!run.last.ok) model_bug("native copy of a page table faulted");
  core_->ledger().charge(sim::Event::kGuestSetPte, run.copied);  // set_pte's, one per copy
  return true;
}

void NativePvOps::ptep_set_wrprotect(EntryRef e) {
  core_->kaccess(
      hw::MemRequest{core_->entry_va(e), hw::MemOp::kAndNot, hw::Mode::kSupervisor, ptflags::kRw});
}

void NativePvOps::ptep_modify_prot(EntryRef e, hw::Pte val) {
  // Native: start = get_and_clear (so the hardware cannot set A/D meanwhile), commit = set.
  const hw::Pte old = ptep_get_and_clear(e, false);
  set_pte(e, val.with(old.raw() & (ptflags::kAccessed | ptflags::kDirty)));
}

void NativePvOps::write_cr3(const Mm* mm) {
  core_->ledger().charge(sim::Event::kGuestWriteCr3);
  const Pfn pgd = mm != nullptr ? mm->pgd : core_->layout().swapper_pgd;
  machine_.cpu(core_->cpu()).mmu().load_cr3(Mfn{pgd.value}, false);
}

void NativePvOps::flush_tlb_local() {
  auto& mmu = machine_.cpu(core_->cpu()).mmu();
  mmu.load_cr3(mmu.cr3(), false);
}

void NativePvOps::flush_tlb_one_user(Vaddr va) {
  machine_.cpu(core_->cpu()).mmu().tlb().invlpg(va);
}

void NativePvOps::flush_range_on(CpuId cpu, Vaddr start, Vaddr end) {
  auto& mmu = machine_.cpu(cpu).mmu();
  if (flush_is_full(start, end)) {
    mmu.load_cr3(mmu.cr3(), false);
    return;
  }
  for (Vaddr va = start; va < end; va += kPageSize) mmu.tlb().invlpg(va);
}

void NativePvOps::flush_tlb_multi(uint64_t vcpumask, Vaddr start, Vaddr end) {
  for (CpuId c = 0; c < machine_.cpu_count(); ++c) {
    if (!(vcpumask & (uint64_t{1} << c))) continue;
    if (c != core_->cpu()) core_->ledger().charge(sim::Event::kGuestIpi);
    flush_range_on(c, start, end);
  }
}

}  // namespace pib::guest
