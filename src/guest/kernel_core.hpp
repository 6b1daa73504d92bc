// SPDX-License-Identifier: MIT
// State every part of the guest kernel shares: the page descriptors and allocator, the boot
// layout, which vCPU is executing kernel code, which mm each vCPU has loaded, and the kernel's own
// memory accesses (through the direct map, in kernel mode, on the current vCPU).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "common/error.hpp"
#include "guest/page_alloc.hpp"
#include "guest/pt_pages.hpp"
#include "guest/pv_ops.hpp"
#include "guest/rcu.hpp"
#include "sim/ledger.hpp"

namespace pib::guest {

// Flags of user page-table links and user pages (x86 _PAGE_TABLE, PAGE_* protections).
namespace ptflags {
inline constexpr uint64_t kPresent = 1ULL << 0;
inline constexpr uint64_t kRw = 1ULL << 1;
inline constexpr uint64_t kUser = 1ULL << 2;
inline constexpr uint64_t kAccessed = 1ULL << 5;
inline constexpr uint64_t kDirty = 1ULL << 6;
inline constexpr uint64_t kNx = 1ULL << 63;
inline constexpr uint64_t kTable = kPresent | kRw | kUser | kAccessed | kDirty;
inline constexpr uint64_t kKernelTable = kPresent | kRw | kAccessed | kDirty;
inline constexpr uint64_t kAddrMask = 0x000ffffffffff000ULL;
}  // namespace ptflags

class KernelCore {
 public:
  KernelCore(PvOps& ops, sim::Ledger& ledger);

  PvOps& ops() { return ops_; }
  sim::Ledger& ledger() { return ledger_; }
  PageAllocator& pages() { return alloc_; }
  const PageAllocator& pages() const { return alloc_; }
  const BootLayout& layout() const { return layout_; }
  Mm& init_mm() { return init_mm_; }

  // The vCPU executing kernel code now (smp_processor_id()).
  VcpuId cpu() const { return cpu_; }
  void set_cpu(VcpuId v) {
    cpu_ = v;
    ledger_.set_cpu(v);  // work from here on runs on (and is timed on) vCPU v
  }
  uint32_t nr_cpus() const { return layout_.vcpus; }

  // Interrupts. The vCPU takes a pending timer interrupt only where its interrupts are enabled
  // and the code could be interrupted: the interrupt windows the pv-ops report (after each
  // hypercall or trapped access, and when interrupts are re-enabled). local_irq_save/restore
  // nest; the handler runs with interrupts off.
  void set_interrupt_handler(std::function<void(VcpuId)> handler) {
    irq_handler_ = std::move(handler);
  }
  void irq_save(VcpuId v) { ++irq_off_.at(v); }
  void irq_restore(VcpuId v);
  void interrupt_window(VcpuId v) {
    if (irq_handler_) take_pending_interrupt(v);  // inline: called at every guest access
  }
  const Mm* loaded_mm(VcpuId v) const { return loaded_mm_.at(v); }
  void set_loaded_mm(VcpuId v, const Mm* mm) { loaded_mm_.at(v) = mm; }

  // Kernel memory through the direct map.
  Vaddr direct_va(Pfn pfn, uint64_t offset = 0) const {
    return Vaddr{layout_.direct_map_base.value + (pfn.value << kPageShift) + offset};
  }
  uint64_t kload(Vaddr va);
  void kstore(Vaddr va, uint64_t value);
  uint64_t kaccess(const hw::MemRequest& request);  // kernel-mode op that must not fault
  // Where a page-table entry is in the direct map.
  Vaddr entry_va(EntryRef e) const { return direct_va(e.table, e.index * 8); }
  hw::Pte read_entry(EntryRef e) { return hw::Pte{kload(entry_va(e))}; }
  // The first entry of `table` at an index in [first, end) with a bit of `mask` set, or index
  // `end` and an empty entry if none has: the same loads, charges and interrupt windows as
  // read_entry() of each index from `first` up to that entry, in runs (pv-ops load_run).
  struct Found {
    uint64_t index = 0;
    hw::Pte entry;
  };
  Found next_entry(Pfn table, uint64_t first, uint64_t end, uint64_t mask);
  Found next_present(Pfn table, uint64_t first, uint64_t end = kEntriesPerTable) {
    return next_entry(table, first, end, hw::pte_bits::kPresent);
  }
  Found next_nonzero(Pfn table, uint64_t first, uint64_t end = kEntriesPerTable) {
    return next_entry(table, first, end, ~uint64_t{0});
  }
  // Entries [first, first + count) of `table` into out, as read_entry() of each would load them.
  void read_entries(Pfn table, uint64_t first, uint64_t count, uint64_t* out);
  void write_entry_native(EntryRef e, hw::Pte val) { kstore(entry_va(e), val.raw()); }
  void zero_page(Pfn pfn);
  // True when the first `words` entries of the page are zero (one page-scan operation).
  bool page_words_zero(Pfn pfn, uint64_t words);
  void copy_page(Pfn dst, Pfn src);

  // Page allocation for the kernel's own use (page tables, user pages): zeroed when asked,
  // through the direct map as __GFP_ZERO does. Throws OutOfMemory when the guest is out.
  Pfn alloc_page(bool zeroed);
  // One page from the page allocator with reclaim (kswapd below the low watermark, direct
  // reclaim when empty), or kInvalidPfn: for callers that handle failure themselves.
  Pfn try_alloc_page();
  const Watermarks& watermarks() const { return watermarks_; }

  // RCU (guest/rcu.hpp): call_rcu on the current vCPU, and a quiescent state of vCPU `v`,
  // which runs the callbacks whose grace period it ends (each on the vCPU that queued it).
  Rcu& rcu() { return rcu_; }
  void call_rcu(Rcu::Callback fn) { rcu_.call(cpu_, std::move(fn)); }
  void rcu_quiescent(VcpuId v);

  // leave_mm on vCPU `v`: switch it to init_mm (set by the kernel; used by pv-ops' exit path).
  std::function<void(VcpuId)> leave_mm;
  // Where page-table pages come from and go back to (default: the page allocator).
  PtPageSource& pt_pages() { return *pt_pages_; }
  const PtPageSource& pt_pages() const { return *pt_pages_; }
  void set_pt_page_source(std::unique_ptr<PtPageSource> source) { pt_pages_ = std::move(source); }
  // The vsyscall entry every user pgd carries (set by the Xen pv-ops).
  hw::Pte vsyscall_entry;

  // Linux's pgd_list (arch/x86/mm/pgtable.c, pgd_list_add/del under pgd_lock): every root
  // table that has been constructed and not destructed, whether an mm runs on it or a cache
  // holds it. Such a page holds machine frame numbers (its kernel half, the vsyscall slot), so
  // whatever must see every one of them walks this list: Xen's save (xen_mm_pin_all). Linux
  // lists kernel pgds only and reaches each user pgd through its kernel pgd (page->private);
  // the model lists user pgds too, which reaches the same tables for a live mm and also the
  // user pgds a cache keeps apart from any kernel pgd. Ordered by pfn, so walks are
  // deterministic (the order of the pins changes no count).
  const std::map<Pfn, TableKind>& pgd_list() const { return pgd_list_; }
  void pgd_list_add(Pfn root, TableKind kind);
  void pgd_list_del(Pfn root);

 private:
  PvOps& ops_;
  sim::Ledger& ledger_;
  BootLayout layout_;
  PageAllocator alloc_;
  Mm init_mm_;
  std::unique_ptr<PtPageSource> pt_pages_;
  std::map<Pfn, TableKind> pgd_list_;
  Watermarks watermarks_;
  Rcu rcu_;
  VcpuId cpu_ = 0;
  std::vector<const Mm*> loaded_mm_;
  void take_pending_interrupt(VcpuId v);
  void check_run(const hw::LoadRun& r, Vaddr start) const;  // model_bug if the run faulted
  void kswapd();
  std::function<void(VcpuId)> irq_handler_;
  std::vector<uint32_t> irq_off_;  // local_irq_save depth per vCPU
};

// The guest ran out of memory: the scenario asked for more than the domain it configured has.
// An input error for the run (the simulation stops there), not a model bug.
struct OutOfMemory : InputError {
  using InputError::InputError;
};

}  // namespace pib::guest
