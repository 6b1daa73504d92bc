// SPDX-License-Identifier: MIT
// move_page_tables (Linux 6.1 mm/mremap.c) for exec moving its argument stack and for mremap
// moves. Every PTE is moved one by one (move_ptes); Linux's shortcut of moving a whole table
// when an extent is an aligned 2 MiB on both sides (move_normal_pmd) is not modelled: exec's
// extent never is one, and a replayed mremap that is reports the move as such.
#include "guest/pgtable.hpp"

namespace pib::guest {

void PageTables::move_page_tables(Mm& mm, Vaddr old_start, Vaddr new_start, uint64_t len) {
  const Vaddr old_end = old_start + len;
  Vaddr old_addr = old_start;
  Vaddr new_addr = new_start;
  while (old_addr < old_end) {
    // An extent ends at the next PMD boundary of either side.
    const uint64_t to_old = (align_down(old_addr, kPmdSize) + kPmdSize) - old_addr;
    const uint64_t to_new = (align_down(new_addr, kPmdSize) + kPmdSize) - new_addr;
    const uint64_t extent = std::min({to_old, to_new, old_end - old_addr});
    // get_old_pmd: nothing to move where the source has no L1.
    if (const auto old_e = lookup(mm, old_addr)) {
      // alloc_new_pmd then __pte_alloc: the destination's L3/L2/L1 as a fault would make them.
      const EntryRef new_first = alloc_walk(mm, new_addr);
      bool force_flush = false;
      k_.ops().enter_lazy_mmu();
      for (uint64_t off = 0; off < extent; off += kPageSize) {
        const EntryRef from{old_e->table, table_index(old_addr + off, 1)};
        if (k_.read_entry(from).raw() == 0) continue;
        // ptep_get_and_clear on the source (a native xchg: Xen traps it on a pinned L1), then
        // set_pte_at on the destination (queued while lazy).
        const hw::Pte pte = k_.ops().ptep_get_and_clear(from, false);
        if (pte.present()) force_flush = true;
        const EntryRef to{new_first.table, table_index(new_addr + off, 1)};
        k_.ops().set_pte(to, pte);
      }
      k_.ops().leave_lazy_mmu();
      // The old translations may still be cached: flush the source extent after the batch.
      if (force_flush) flush_tlb_mm_range(mm, old_addr, old_addr + extent);
    }
    old_addr = old_addr + extent;
    new_addr = new_addr + extent;
  }
}

}  // namespace pib::guest
