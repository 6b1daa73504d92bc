// SPDX-License-Identifier: MIT
// Generic page-table code: walking and populating an mm's 4-level tree (pud/pmd/pte_alloc with
// the populate helpers that call the pv alloc hook before writing the parent entry), tearing
// ranges down (zap_pte_range under lazy-MMU mode) and freeing tables whose span is unused
// (free_pgtables / free_pgd_range with Linux's floor and ceiling rules), with an mmu_gather that
// flushes the TLB before anything it collected goes back to the allocator.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "guest/kernel_core.hpp"
#include "guest/mm_types.hpp"

namespace pib::guest {

// The index of `va`'s entry in its level-N table, and the bytes one entry of that level maps.
using hw::span_of_entry;
using hw::table_index;

// mmu_gather: what a teardown has unmapped and must free after the TLB flush.
struct Gather {
  Mm* mm = nullptr;
  bool fullmm = false;
  Vaddr start{~uint64_t{0}};
  Vaddr end{0};
  bool freed_tables = false;
  std::vector<Pfn> pages;                       // user pages to put
  std::vector<std::pair<Pfn, PtLevel>> tables;  // table pages to free

  void track(Vaddr s, Vaddr e) {
    if (s < start) start = s;
    if (e > end) end = e;
  }
};

class PageTables {
 public:
  explicit PageTables(KernelCore& core) : k_(core) {}

  // The table a present entry points to.
  std::optional<Pfn> next_table(EntryRef e);
  // The L1 entry mapping `va`, if every level above exists.
  std::optional<EntryRef> lookup(const Mm& mm, Vaddr va);
  // The allocating walk of a fault: L3, L2 and L1 created top-down as needed.
  EntryRef alloc_walk(Mm& mm, Vaddr va);
  Pfn pud_alloc(Mm& mm, Vaddr va);
  Pfn pmd_alloc(Mm& mm, Pfn l3, Vaddr va);
  Pfn pte_alloc(Mm& mm, Pfn l2, Vaddr va);

  // unmap_vmas for one VMA's [start, end): clears PTEs (per L1 table in lazy-MMU mode).
  void zap_range(Gather& tlb, Mm& mm, Vaddr start, Vaddr end);
  // free_pgtables over `vmas` (sorted, all being removed or the whole mm).
  void free_pgtables(Gather& tlb, Mm& mm, const std::vector<VaRange>& vmas, Vaddr floor,
                     Vaddr ceiling);
  // tlb_finish_mmu: flush, then free the pages and tables gathered.
  void finish(Gather& tlb);

  // mremap's move_page_tables for `len` bytes from `old_start` down or up to `new_start` in one
  // mm (exec's shift_arg_pages): per PMD extent the destination's tables are allocated as a fault
  // would (through the alloc hooks), each present PTE is cleared at the source and written at the
  // destination in lazy-MMU mode, then the source extent is flushed. The source tables stay; the
  // caller frees them. (pgtable_move.cpp)
  void move_page_tables(Mm& mm, Vaddr old_start, Vaddr new_start, uint64_t len);

  // x86 flush_tlb_mm_range on the current vCPU.
  void flush_tlb_mm_range(const Mm& mm, Vaddr start, Vaddr end);

 private:
  Pfn new_table(Mm& mm, PtLevel level);
  // __tlb_remove_table for each: back to the page-table page source.
  static void free_tables(KernelCore& core, const std::vector<std::pair<Pfn, PtLevel>>& tables);
  void zap_pte_range(Gather& tlb, Mm& mm, Pfn l1, Vaddr addr, Vaddr end);
  // What zap_pte_range does with one cleared present entry `old` that mapped va.
  void zap_pte(Gather& tlb, Mm& mm, Vaddr va, hw::Pte old);
  void free_pgd_range(Gather& tlb, Mm& mm, Vaddr addr, Vaddr end, Vaddr floor, Vaddr ceiling);
  void free_pud_range(Gather& tlb, Mm& mm, uint64_t slot, Vaddr addr, Vaddr end, Vaddr floor,
                      Vaddr ceiling);
  void free_pmd_range(Gather& tlb, Mm& mm, EntryRef pud, Vaddr addr, Vaddr end, Vaddr floor,
                      Vaddr ceiling);
  void free_table(Gather& tlb, Mm& mm, Pfn table, PtLevel level, Vaddr addr);

  KernelCore& k_;
};

}  // namespace pib::guest
