// SPDX-License-Identifier: MIT
// The paravirtual operations of the guest kernel (Linux's pv_ops.mmu and the parts of pv_ops.cpu
// the memory-management paths use): how the kernel touches memory, writes page-table entries,
// learns about page-table pages coming and going, switches address spaces and flushes TLBs.
// Chosen at run time: `native` (bare metal) or `xen` (Linux's arch/x86/xen paths). Generic
// memory-management code calls only these; everything platform-specific lives behind them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/types.hpp"
#include "guest/mm_types.hpp"
#include "hw/cpu.hpp"
#include "hw/pte.hpp"

namespace pib::guest {

class KernelCore;

// Where a page-table entry lives.
struct EntryRef {
  Pfn table;
  uint64_t index = 0;
};

// What the platform hands the kernel at boot.
struct BootLayout {
  uint64_t nr_pages = 0;
  uint32_t vcpus = 1;
  Pfn swapper_pgd;  // init_mm's root table (kernel half: the direct map of all memory)
  Pfn first_free;   // frames below this are used by the boot page tables
  Vaddr direct_map_base;
};

class PvOps {
 public:
  virtual ~PvOps() = default;
  virtual std::string_view name() const = 0;

  virtual BootLayout boot_layout() const = 0;
  // Late boot, once the kernel's page descriptors exist (marks init_mm's tables pinned, sets up
  // whatever the platform's address spaces need).
  virtual void attach(KernelCore& core) = 0;

  // ---- execution --------------------------------------------------------------------------
  // One memory operation by the vCPU; request.mode says kernel or user code.
  virtual hw::MemResult access(VcpuId vcpu, const hw::MemRequest& request) = 0;
  // A run of loads of consecutive words of one page (hw::Cpu::load_run): the same as that many
  // access() loads, each with its interrupt window, in one call (the run ends where a window
  // has work, and this takes that window after it).
  virtual hw::LoadRun load_run(VcpuId vcpu, Vaddr va, uint32_t count, hw::Mode mode,
                               uint64_t stop_mask, uint64_t* out) = 0;
  // Kernel entry (syscall, interrupt) and return to user mode on `vcpu`.
  virtual void enter_kernel(VcpuId vcpu) = 0;
  virtual void return_to_user(VcpuId vcpu) = 0;
  // A user-mode fault was delivered: the vCPU is now in kernel mode (no explicit entry).
  virtual void fault_delivered(VcpuId vcpu) = 0;

  // ---- time -----------------------------------------------------------------------------------
  // The vCPU's clock in ns (Xen: system time from vcpu_time_info; bare metal: the TSC).
  virtual uint64_t clock_ns(VcpuId vcpu) const = 0;
  // The per-vCPU clock event device (Xen: VCPUOP_set_singleshot_timer, a hypercall; bare metal:
  // the local APIC timer in TSC-deadline mode).
  virtual void set_timer(VcpuId vcpu, uint64_t deadline_ns) = 0;
  // Whether a timer interrupt is pending (Xen: VIRQ_TIMER raised), and taking it (the upcall or
  // interrupt handler's acknowledgement).
  virtual bool timer_interrupt_pending(VcpuId vcpu) = 0;
  virtual void take_timer_interrupt(VcpuId vcpu) = 0;

  // ---- entry encoding (pfn <-> what the hardware sees) ----------------------------------
  virtual hw::Pte make_entry(Pfn pfn, uint64_t flags) const = 0;
  // The bus address a device must be given for a guest page (Xen PV: its machine address, as
  // xen-swiotlb hands out; bare metal: its physical address).
  virtual uint64_t dma_address(Pfn pfn) const = 0;
  virtual Pfn entry_pfn(hw::Pte entry) const = 0;

  // ---- entry writes -------------------------------------------------------------------------
  virtual void set_pte(EntryRef e, hw::Pte val) = 0;
  virtual void set_pmd(EntryRef e, hw::Pte val) = 0;
  virtual void set_pud(EntryRef e, hw::Pte val) = 0;
  // A pgd slot of `mm`; user-half slots are mirrored into the user pgd where there is one.
  virtual void set_p4d(const Mm& mm, uint64_t slot, hw::Pte val) = 0;
  // Atomic get-and-clear (full: the whole mm is being torn down, a plain store suffices).
  virtual hw::Pte ptep_get_and_clear(EntryRef e, bool full) = 0;
  // The clearing half of a full teardown of table entries [first.index, end) in one call: the
  // loads of a scan for present entries over the range (KernelCore::next_present) and
  // ptep_get_and_clear(e, true) of each one found, with the same accesses and charges in the
  // same order. The present entries' indices (from first.index) and old values go to `taken`
  // (room for the range). nullopt where it cannot be one call — an interrupt window between
  // two of the accesses may have work (a clock runs), or the entries are cleared through the
  // hypervisor — and then nothing was done.
  virtual std::optional<uint32_t> take_present_run(EntryRef first, uint64_t end,
                                                   hw::TakenWord* taken) {
    (void)first, (void)end, (void)taken;
    return std::nullopt;
  }
  // The copying half of fork's copy_pte_range over entries [first.index, end) of a table into
  // `dst` at the same indices: the loads of a scan for present entries (KernelCore::next_present)
  // and, for each one found, `fn` (hw::CopyWord: the bits the entry loses, the child's entry),
  // ptep_set_wrprotect of it where it loses RW and set_pte of the child's, with the same
  // accesses and charges in the same order. False where it cannot be one call (as
  // take_present_run), and then nothing was done.
  virtual bool copy_present_run(EntryRef first, uint64_t end, Pfn dst, hw::CopyWordFn fn,
                                void* context) {
    (void)first, (void)end, (void)dst, (void)fn, (void)context;
    return false;
  }
  virtual void ptep_set_wrprotect(EntryRef e) = 0;
  // ptep_modify_prot_start/commit: replace an entry keeping hardware A/D bits.
  virtual void ptep_modify_prot(EntryRef e, hw::Pte val) = 0;

  // ---- page-table page life cycle ---------------------------------------------------------
  virtual void alloc_pt(const Mm& mm, Pfn page, PtLevel level) = 0;
  virtual void release_pt(Pfn page, PtLevel level) = 0;
  virtual void pgd_alloc(Mm& mm) = 0;  // after the kernel pgd page is allocated and zeroed
  virtual void pgd_free(Mm& mm) = 0;   // before the kernel pgd page is freed
  // pv_ops.mmu.tlb_remove_table: whether freed L1-L3 tables reach the allocator only after an
  // RCU grace period (Xen PV since Linux 4.14: its flush hypercall does not wait for lockless
  // walkers running with interrupts off, as a native flush IPI does) or right after the flush.
  virtual bool tables_freed_after_grace_period() const = 0;
  // A fully built address space is about to be used (end of dup_mmap, exec activation).
  virtual void enter_mmap(Mm& mm) = 0;
  // Start of exit_mmap, before any teardown.
  virtual void exit_mmap(Mm& mm) = 0;

  // ---- address-space switch and TLB --------------------------------------------------------
  virtual void write_cr3(const Mm* mm) = 0;  // nullptr: init_mm
  virtual void flush_tlb_local() = 0;
  virtual void flush_tlb_one_user(Vaddr va) = 0;
  // Flush `mm`'s range on every vCPU of `vcpumask` (which may include this one).
  virtual void flush_tlb_multi(uint64_t vcpumask, Vaddr start, Vaddr end) = 0;

  // ---- batching -----------------------------------------------------------------------------
  virtual void enter_lazy_mmu() = 0;
  virtual void leave_lazy_mmu() = 0;
  virtual void start_context_switch() = 0;
  virtual void end_context_switch() = 0;
};

}  // namespace pib::guest
