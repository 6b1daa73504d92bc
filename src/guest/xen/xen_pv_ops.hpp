// SPDX-License-Identifier: MIT
// pv-ops of a 64-bit Linux PV guest on Xen (arch/x86/xen/mmu_pv.c, multicalls.c, the PV parts
// of enlighten_pv.c), following xen-pv-mmu.md section B: set_pte always through mmu_update,
// upper entries by hypercall only while the tree is pinned, the alloc/release hooks by pinned
// state, whole-tree pin after fork and at exec activation, drop-references-then-unpin at exit,
// the user pgd beside every pgd, lazy-MMU batching in multicalls, and native atomic PTE
// operations that Xen traps and emulates on pinned tables.
#pragma once

#include <optional>
#include <vector>

#include "abi/port.hpp"
#include "abi/start_info.hpp"
#include "common/names.hpp"
#include "guest/dma_pool.hpp"
#include "guest/pt_pool_port.hpp"
#include "guest/pv_ops.hpp"
#include "guest/table_pin_port.hpp"
#include "guest/xen/multicall_batch.hpp"

namespace pib::guest {

// Which Linux generation's Xen paths to follow where they differ (xen-pv-mmu.md B1-B4).
enum class LinuxGeneration : uint8_t {
  kLinux4,  // ≈4.12-era: PagePinned set and the L1 pin queued unconditionally in alloc hooks
  kLinux6,  // ≈6.x: the hook skips the pin for a page that is already pinned
};
// Named by major version: scenario files write them as integers (`linux = 4`).
inline constexpr auto kLinuxGenerationNames = make_names<LinuxGeneration>(
    "Linux generation", {{LinuxGeneration::kLinux4, "4"}, {LinuxGeneration::kLinux6, "6"}});
inline std::string_view name_of(LinuxGeneration g) {
  return kLinuxGenerationNames.name_of(g);
}
// InputError naming the valid generations when `name` is none of them.
inline LinuxGeneration linux_generation_by_name(std::string_view name) {
  return kLinuxGenerationNames.by_name(name);
}

class XenPvOps final : public PvOps, public PtPoolPort, public TablePinPort {
 public:
  XenPvOps(abi::HypervisorPort& port, abi::StartInfo start_info,
           LinuxGeneration generation = LinuxGeneration::kLinux6);

  std::string_view name() const override { return "xen"; }
  BootLayout boot_layout() const override;
  void attach(KernelCore& core) override;

  hw::MemResult access(VcpuId vcpu, const hw::MemRequest& request) override;
  hw::LoadRun load_run(VcpuId vcpu, Vaddr va, uint32_t count, hw::Mode mode, uint64_t stop_mask,
                       uint64_t* out) override;
  void enter_kernel(VcpuId vcpu) override;
  void return_to_user(VcpuId vcpu) override;
  void fault_delivered(VcpuId vcpu) override;

  uint64_t clock_ns(VcpuId vcpu) const override;
  void set_timer(VcpuId vcpu, uint64_t deadline_ns) override;
  bool timer_interrupt_pending(VcpuId vcpu) override;
  void take_timer_interrupt(VcpuId vcpu) override;

  hw::Pte make_entry(Pfn pfn, uint64_t flags) const override;
  uint64_t dma_address(Pfn pfn) const override { return pfn_to_mfn(pfn).value << kPageShift; }
  Pfn entry_pfn(hw::Pte entry) const override;

  void set_pte(EntryRef e, hw::Pte val) override;
  std::optional<uint32_t> take_present_run(EntryRef first, uint64_t end,
                                           hw::TakenWord* taken) override;
  void set_pmd(EntryRef e, hw::Pte val) override;
  void set_pud(EntryRef e, hw::Pte val) override;
  void set_p4d(const Mm& mm, uint64_t slot, hw::Pte val) override;
  hw::Pte ptep_get_and_clear(EntryRef e, bool full) override;
  void ptep_set_wrprotect(EntryRef e) override;
  void ptep_modify_prot(EntryRef e, hw::Pte val) override;

  void alloc_pt(const Mm& mm, Pfn page, PtLevel level) override;
  void release_pt(Pfn page, PtLevel level) override;
  void pgd_alloc(Mm& mm) override;
  void pgd_free(Mm& mm) override;
  // Linux 6's tlb_remove_table; the ≈4.12 generation predates RCU table freeing on x86 (4.14).
  bool tables_freed_after_grace_period() const override {
    return generation_ == LinuxGeneration::kLinux6;
  }
  void enter_mmap(Mm& mm) override;
  void exit_mmap(Mm& mm) override;

  // PtPoolPort: MMUEXT_PT_POOL_ADD/REMOVE, after any queued work.
  void pool_add(const std::vector<Pfn>& pages) override;
  void pool_remove(const std::vector<Pfn>& pages) override;
  // TablePinPort: fresh pages made read-only and pinned at their level, and back.
  void pin_tables(const std::vector<Pfn>& pages, TableKind kind) override;
  void unpin_tables(const std::vector<Pfn>& pages, TableKind kind) override;
  // When the pin paths use the pool (default: never). The strategy outlives these pv-ops.
  void set_dma_pool_strategy(DmaPoolStrategy& strategy) { dma_pool_ = &strategy; }

  void write_cr3(const Mm* mm) override;
  void flush_tlb_local() override;
  void flush_tlb_one_user(Vaddr va) override;
  void flush_tlb_multi(uint64_t vcpumask, Vaddr start, Vaddr end) override;

  void enter_lazy_mmu() override;
  void leave_lazy_mmu() override;
  void start_context_switch() override;
  void end_context_switch() override;

  Mfn pfn_to_mfn(Pfn pfn) const { return si_.p2m.at(pfn.value); }
  Pfn vsyscall_l3() const { return vsyscall_l3_; }
  const abi::StartInfo& start_info() const { return si_; }

  // ---- save and restore (drivers/xen/manage.c do_suspend, arch/x86/xen/suspend_pv.c) ------
  // xen_pv_pre_suspend: xen_mm_pin_all pins every root on the pgd list that is not pinned
  // (so the toolstack sees it as a page table and rewrites its frames), then HYPERVISOR_suspend.
  void suspend();
  // The suspend call has returned: in a restored domain (`restored`: its id and the p2m the
  // toolstack wrote) or in the same one (nullopt: the save was cancelled). xen_pv_post_suspend
  // with xen_mm_unpin_all, then xen_timer_resume (each vCPU's one-shot timer set again); in a
  // new domain the page-table pool is registered again first-hand, since Xen keeps it per
  // frame and frames do not migrate.
  void resume(const std::optional<abi::StartInfo>& restored);
  struct SuspendCounts {
    uint64_t save_pinned = 0;    // roots xen_mm_pin_all pinned
    uint64_t pool_re_added = 0;  // frames given back to a new domain's pool
  };
  const SuspendCounts& suspend_counts() const { return suspend_counts_; }

 private:
  MulticallBatch& batch() { return batches_.at(cpu()); }
  VcpuId cpu() const;
  Maddr entry_maddr(EntryRef e) const;
  bool page_pinned(Pfn table) const;
  void set_pfn_prot(Pfn pfn, bool writable, uint64_t uvmf_flags);  // queues update_va_mapping
  void do_pin(uint32_t cmd, Pfn pfn);                              // xen_do_pin (extends)
  void pin_pagetable_pfn(uint32_t cmd, Pfn pfn);                   // a new single-op entry
  void set_upper_hyper(EntryRef e, hw::Pte val);
  // __xen_pgd_walk over the user half of `pgd`, depth first, the pgd itself last.
  template <typename Fn>
  void pgd_walk(Pfn pgd, Fn&& fn);
  void pin_page(Pfn page, PtLevel level);
  void unpin_page(Pfn page, PtLevel level);
  // __xen_pgd_pin / __xen_pgd_unpin: a root with its tree and its user pgd (kInvalidPfn: none).
  void pin_tree(Pfn pgd, Pfn user_pgd);
  void unpin_tree(Pfn pgd, Pfn user_pgd);
  void pgd_pin(Mm& mm) { pin_tree(mm.pgd, mm.user_pgd); }
  void pgd_unpin(Mm& mm) { unpin_tree(mm.pgd, mm.user_pgd); }
  void mm_pin_all();
  void mm_unpin_all();
  void pool_re_add();
  void drop_mm_ref(const Mm& mm);
  void drop_mm_ref_this_cpu(const Mm& mm);

  abi::HypervisorPort& port_;
  abi::StartInfo si_;
  LinuxGeneration generation_;
  KernelCore* core_ = nullptr;
  std::vector<MulticallBatch> batches_;
  std::vector<Pfn> xen_cr3_;          // per vCPU: the pgd last written (this_cpu xen_cr3)
  std::vector<Pfn> xen_current_cr3_;  // per vCPU: the pgd Xen has (after the batch went out)
  std::vector<bool> in_user_;
  std::vector<uint32_t> pending_virqs_;  // VIRQs taken from Xen, not yet handled
  Pfn vsyscall_l3_ = kInvalidPfn;
  static constexpr uint64_t kNoTimer = ~uint64_t{0};
  std::vector<uint64_t> timer_deadline_;  // per vCPU: the one-shot deadline last set
  SuspendCounts suspend_counts_;
  NoDmaPool no_dma_pool_;
  DmaPoolStrategy* dma_pool_ = &no_dma_pool_;
  void pool_op(uint32_t cmd, const std::vector<Pfn>& pages);
};

}  // namespace pib::guest
