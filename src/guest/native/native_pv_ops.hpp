// SPDX-License-Identifier: MIT
// pv-ops for a kernel running on bare metal: the kernel owns the machine, guest frames are
// machine frames, page tables are ordinary writable memory, and TLB maintenance is done with the
// CPU's own instructions (IPIs for other CPUs). The reference the Xen paths are compared with.
#pragma once

#include "guest/pv_ops.hpp"
#include "hw/machine.hpp"

namespace pib::guest {

class NativePvOps final : public PvOps {
 public:
  // Builds the boot page tables (a 4 KiB direct map of all memory at the Linux direct-map base,
  // as head64 would before handing over) and loads them on every CPU.
  explicit NativePvOps(hw::Machine& machine);

  std::string_view name() const override { return "native"; }
  BootLayout boot_layout() const override { return layout_; }
  void attach(KernelCore& core) override;

  hw::MemResult access(VcpuId vcpu, const hw::MemRequest& request) override;
  hw::LoadRun load_run(VcpuId vcpu, Vaddr va, uint32_t count, hw::Mode mode, uint64_t stop_mask,
                       uint64_t* out) override;
  void enter_kernel(VcpuId vcpu) override;
  void return_to_user(VcpuId vcpu) override;
  void fault_delivered(VcpuId) override {}

  uint64_t clock_ns(VcpuId vcpu) const override;
  void set_timer(VcpuId vcpu, uint64_t deadline_ns) override;
  bool timer_interrupt_pending(VcpuId vcpu) override;
  void take_timer_interrupt(VcpuId vcpu) override;

  hw::Pte make_entry(Pfn pfn, uint64_t flags) const override;
  uint64_t dma_address(Pfn pfn) const override { return pfn.value << kPageShift; }
  Pfn entry_pfn(hw::Pte entry) const override;

  void set_pte(EntryRef e, hw::Pte val) override;
  std::optional<uint32_t> take_present_run(EntryRef first, uint64_t end,
                                           hw::TakenWord* taken) override;
  void set_pmd(EntryRef e, hw::Pte val) override;
  void set_pud(EntryRef e, hw::Pte val) override;
  void set_p4d(const Mm& mm, uint64_t slot, hw::Pte val) override;
  hw::Pte ptep_get_and_clear(EntryRef e, bool full) override;
  bool copy_present_run(EntryRef first, uint64_t end, Pfn dst, hw::CopyWordFn fn,
                        void* context) override;
  void ptep_set_wrprotect(EntryRef e) override;
  void ptep_modify_prot(EntryRef e, hw::Pte val) override;

  void alloc_pt(const Mm&, Pfn, PtLevel) override {}
  void release_pt(Pfn, PtLevel) override {}
  void pgd_alloc(Mm&) override {}
  void pgd_free(Mm&) override {}
  bool tables_freed_after_grace_period() const override { return false; }  // tlb_remove_page
  void enter_mmap(Mm&) override {}
  void exit_mmap(Mm&) override {}

  void write_cr3(const Mm* mm) override;
  void flush_tlb_local() override;
  void flush_tlb_one_user(Vaddr va) override;
  void flush_tlb_multi(uint64_t vcpumask, Vaddr start, Vaddr end) override;

  void enter_lazy_mmu() override {}
  void leave_lazy_mmu() override {}
  void start_context_switch() override {}
  void end_context_switch() override {}

 private:
  void flush_range_on(CpuId cpu, Vaddr start, Vaddr end);

  hw::Machine& machine_;
  BootLayout layout_;
  KernelCore* core_ = nullptr;
};

}  // namespace pib::guest
