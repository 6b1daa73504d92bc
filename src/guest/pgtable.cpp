// SPDX-License-Identifier: MIT
#include "guest/pgtable.hpp"

#include <array>

#include "common/error.hpp"
#include "guest/tlb_policy.hpp"

namespace pib::guest {

using sim::Event;

namespace {
constexpr Event alloc_event(PtLevel l) {
  return l == PtLevel::kPte   ? Event::kGuestPtAllocL1
         : l == PtLevel::kPmd ? Event::kGuestPtAllocL2
                              : Event::kGuestPtAllocL3;
}
constexpr sim::Span alloc_span(PtLevel l) {
  return l == PtLevel::kPte   ? sim::Span::kPtAllocL1
         : l == PtLevel::kPmd ? sim::Span::kPtAllocL2
                              : sim::Span::kPtAllocL3;
}
constexpr sim::Span free_span(PtLevel l) {
  return l == PtLevel::kPte   ? sim::Span::kPtFreeL1
         : l == PtLevel::kPmd ? sim::Span::kPtFreeL2
                              : sim::Span::kPtFreeL3;
}
constexpr Event free_event(PtLevel l) {
  return l == PtLevel::kPte   ? Event::kGuestPtFreeL1
         : l == PtLevel::kPmd ? Event::kGuestPtFreeL2
                              : Event::kGuestPtFreeL3;
}
}  // namespace

std::optional<Pfn> PageTables::next_table(EntryRef e) {
  const hw::Pte v = k_.read_entry(e);
  if (!v.present()) return std::nullopt;
  return k_.ops().entry_pfn(v);
}

std::optional<EntryRef> PageTables::lookup(const Mm& mm, Vaddr va) {
  Pfn table = mm.pgd;
  for (unsigned level = 4; level > 1; --level) {
    const auto next = next_table(EntryRef{table, table_index(va, level)});
    if (!next) return std::nullopt;
    table = *next;
  }
  return EntryRef{table, table_index(va, 1)};
}

Pfn PageTables::new_table(Mm& mm, PtLevel level) {
  // GFP_PGTABLE_USER: a zeroed page (through the direct map), or a ready one, from the source.
  const Pfn pfn = k_.pt_pages().alloc(table_kind(level), mm);
  k_.pages().page(pfn).pt_level = level;
  k_.ledger().charge(alloc_event(level));
  mm.pt_pages[static_cast<unsigned>(level)]++;
  return pfn;
}

Pfn PageTables::pud_alloc(Mm& mm, Vaddr va) {
  const uint64_t slot = table_index(va, 4);
  if (auto l3 = next_table(EntryRef{mm.pgd, slot})) return *l3;
  sim::SpanScope span(k_.ledger(), alloc_span(PtLevel::kPud));
  const Pfn l3 = new_table(mm, PtLevel::kPud);
  k_.ops().alloc_pt(mm, l3, PtLevel::kPud);  // p4d_populate: hook, then the entry
  k_.ops().set_p4d(mm, slot, k_.ops().make_entry(l3, ptflags::kTable));
  return l3;
}

Pfn PageTables::pmd_alloc(Mm& mm, Pfn l3, Vaddr va) {
  const EntryRef e{l3, table_index(va, 3)};
  if (auto l2 = next_table(e)) return *l2;
  sim::SpanScope span(k_.ledger(), alloc_span(PtLevel::kPmd));
  const Pfn l2 = new_table(mm, PtLevel::kPmd);
  k_.ops().alloc_pt(mm, l2, PtLevel::kPmd);  // pud_populate
  k_.ops().set_pud(e, k_.ops().make_entry(l2, ptflags::kTable));
  return l2;
}

Pfn PageTables::pte_alloc(Mm& mm, Pfn l2, Vaddr va) {
  const EntryRef e{l2, table_index(va, 2)};
  if (auto l1 = next_table(e)) return *l1;
  sim::SpanScope span(k_.ledger(), alloc_span(PtLevel::kPte));
  const Pfn l1 = new_table(mm, PtLevel::kPte);
  k_.ops().alloc_pt(mm, l1, PtLevel::kPte);  // pmd_populate
  k_.ops().set_pmd(e, k_.ops().make_entry(l1, ptflags::kTable));
  return l1;
}

EntryRef PageTables::alloc_walk(Mm& mm, Vaddr va) {
  const Pfn l3 = pud_alloc(mm, va);
  const Pfn l2 = pmd_alloc(mm, l3, va);
  const Pfn l1 = pte_alloc(mm, l2, va);
  return EntryRef{l1, table_index(va, 1)};
}

// ---- teardown -----------------------------------------------------------------------------------

void PageTables::zap_pte_range(Gather& tlb, Mm& mm, Pfn l1, Vaddr addr, Vaddr end) {
  k_.ops().enter_lazy_mmu();
  const uint64_t first = table_index(addr, 1);
  const uint64_t last = first + ((end - addr + kPageSize - 1) >> kPageShift);
  std::array<hw::TakenWord, kEntriesPerTable> taken;
  const std::optional<uint32_t> n =
      tlb.fullmm ? k_.ops().take_present_run(EntryRef{l1, first}, last, taken.data())
                 : std::nullopt;
  if (n) {
    // The entries were cleared in one call; what is done with them touches no memory, so doing
    // it afterwards charges the same (the platform does such a run only without a clock).
    for (uint32_t i = 0; i < *n; ++i) {
      zap_pte(tlb, mm, addr + (uint64_t{taken[i].index} << kPageShift), hw::Pte{taken[i].value});
    }
  } else {
    for (auto found = k_.next_present(l1, first, last); found.index < last;
         found = k_.next_present(l1, found.index + 1, last)) {
      const Vaddr va = addr + ((found.index - first) << kPageShift);
      zap_pte(tlb, mm, va, k_.ops().ptep_get_and_clear(EntryRef{l1, found.index}, tlb.fullmm));
    }
  }
  k_.ops().leave_lazy_mmu();
}

void PageTables::zap_pte(Gather& tlb, Mm& mm, Vaddr va, hw::Pte old) {
  tlb.track(va, va + kPageSize);
  mm.rss--;
  const Pfn page = k_.ops().entry_pfn(old);
  Page& pg = k_.pages().page(page);
  if (pg.mapcount == 0) return;  // the shared zero page: no references
  pg.mapcount--;
  k_.ledger().charge(sim::Event::kGuestZapPtes);
  tlb.pages.push_back(page);
}

void PageTables::zap_range(Gather& tlb, Mm& mm, Vaddr start, Vaddr end) {
  for (Vaddr a4 = start; a4 < end;) {
    const Vaddr n4 = std::min(align_down(a4, span_of_entry(4)) + span_of_entry(4), end);
    if (auto l3 = next_table(EntryRef{mm.pgd, table_index(a4, 4)})) {
      for (Vaddr a3 = a4; a3 < n4;) {
        const Vaddr n3 = std::min(align_down(a3, span_of_entry(3)) + span_of_entry(3), n4);
        if (auto l2 = next_table(EntryRef{*l3, table_index(a3, 3)})) {
          for (Vaddr a2 = a3; a2 < n3;) {
            const Vaddr n2 = std::min(align_down(a2, span_of_entry(2)) + span_of_entry(2), n3);
            if (auto l1 = next_table(EntryRef{*l2, table_index(a2, 2)})) {
              zap_pte_range(tlb, mm, *l1, a2, n2);
            }
            a2 = n2;
          }
        }
        a3 = n3;
      }
    }
    a4 = n4;
  }
}

void PageTables::free_table(Gather& tlb, Mm& mm, Pfn table, PtLevel level, Vaddr addr) {
  // ___pte/pmd/pud_free_tlb: the release hook, then the page waits for the TLB flush; the
  // gather's flush range grows by one page at the table's address (tlb_flush_pXd_range).
  k_.ops().release_pt(table, level);
  mm.pt_pages[static_cast<unsigned>(level)]--;
  tlb.freed_tables = true;
  tlb.track(addr, addr + kPageSize);
  tlb.tables.emplace_back(table, level);
}

// Linux's free_pmd_range/free_pud_range/free_pgd_range: tables are freed only when the whole
// span they map lies inside [floor, ceiling) (ceiling 0 = the top of the address space), so
// tables shared with neighbouring mappings survive. Unsigned wrap-around is intended, as in C.
void PageTables::free_pmd_range(Gather& tlb, Mm& mm, EntryRef pud, Vaddr addr, Vaddr end,
                                Vaddr floor, Vaddr ceiling) {
  const Pfn l2 = *next_table(pud);
  const Vaddr start = addr;
  for (Vaddr a = addr; a < end;) {
    const Vaddr next = std::min(align_down(a, kPmdSize) + kPmdSize, end);
    const EntryRef pmd{l2, table_index(a, 2)};
    if (auto l1 = next_table(pmd)) {  // free_pte_range
      sim::SpanScope span(k_.ledger(), sim::Span::kPtFreeL1);
      k_.ops().set_pmd(pmd, hw::Pte{});  // pmd_clear
      free_table(tlb, mm, *l1, PtLevel::kPte, a);
    }
    a = next;
  }
  if (align_down(start, kPudSize) < floor) return;
  if (ceiling != Vaddr{0}) {
    ceiling = align_down(ceiling, kPudSize);
    if (ceiling == Vaddr{0}) return;
  }
  if (end - 1 > ceiling - 1) return;
  sim::SpanScope span(k_.ledger(), sim::Span::kPtFreeL2);
  k_.ops().set_pud(pud, hw::Pte{});  // pud_clear
  free_table(tlb, mm, l2, PtLevel::kPmd, align_down(start, kPudSize));
}

void PageTables::free_pud_range(Gather& tlb, Mm& mm, uint64_t slot, Vaddr addr, Vaddr end,
                                Vaddr floor, Vaddr ceiling) {
  const Pfn l3 = *next_table(EntryRef{mm.pgd, slot});
  const Vaddr start = addr;
  for (Vaddr a = addr; a < end;) {
    const Vaddr next = std::min(align_down(a, kPudSize) + kPudSize, end);
    const EntryRef pud{l3, table_index(a, 3)};
    if (next_table(pud)) free_pmd_range(tlb, mm, pud, a, next, floor, ceiling);
    a = next;
  }
  const Vaddr s = align_down(start, kPgdirSize);
  if (s < floor) return;
  if (ceiling != Vaddr{0}) {
    ceiling = align_down(ceiling, kPgdirSize);
    if (ceiling == Vaddr{0}) return;
  }
  if (end - 1 > ceiling - 1) return;
  sim::SpanScope span(k_.ledger(), sim::Span::kPtFreeL3);
  k_.ops().set_p4d(mm, slot, hw::Pte{});  // p4d_clear (pgd level: the p4d is folded)
  free_table(tlb, mm, l3, PtLevel::kPud, s);
}

void PageTables::free_pgd_range(Gather& tlb, Mm& mm, Vaddr addr, Vaddr end, Vaddr floor,
                                Vaddr ceiling) {
  addr = align_down(addr, kPmdSize);
  if (addr < floor) {
    addr += kPmdSize;
    if (addr == Vaddr{0}) return;
  }
  if (ceiling != Vaddr{0}) {
    ceiling = align_down(ceiling, kPmdSize);
    if (ceiling == Vaddr{0}) return;
  }
  if (end - 1 > ceiling - 1) end -= kPmdSize;
  if (addr > end - 1) return;
  for (Vaddr a = addr; a < end;) {
    const Vaddr next = std::min(align_down(a, kPgdirSize) + kPgdirSize, end);
    const uint64_t slot = table_index(a, 4);
    if (next_table(EntryRef{mm.pgd, slot})) free_pud_range(tlb, mm, slot, a, next, floor, ceiling);
    a = next;
  }
}

void PageTables::free_pgtables(Gather& tlb, Mm& mm, const std::vector<VaRange>& vmas, Vaddr floor,
                               Vaddr ceiling) {
  for (std::size_t i = 0; i < vmas.size();) {
    const Vaddr addr = vmas[i].first;
    Vaddr end = vmas[i].second;
    std::size_t j = i + 1;
    // Neighbouring VMAs less than a PMD apart are freed together.
    while (j < vmas.size() && vmas[j].first <= end + kPmdSize) {
      end = vmas[j].second;
      ++j;
    }
    free_pgd_range(tlb, mm, addr, end, floor, j < vmas.size() ? vmas[j].first : ceiling);
    i = j;
  }
}

void PageTables::flush_tlb_mm_range(const Mm& mm, Vaddr start, Vaddr end) {
  if (flush_is_full(start, end)) {
    start = Vaddr{0};
    end = kTlbFlushAll;
  }
  const uint64_t self = uint64_t{1} << k_.cpu();
  if ((mm.cpumask & ~self) != 0) {
    k_.ops().flush_tlb_multi(mm.cpumask, start, end);
  } else if (k_.loaded_mm(k_.cpu()) == &mm) {
    if (end == kTlbFlushAll) {
      k_.ops().flush_tlb_local();
    } else {
      for (Vaddr va = start; va < end; va += kPageSize) k_.ops().flush_tlb_one_user(va);
    }
  }
}

void PageTables::finish(Gather& tlb) {
  if (tlb.end > tlb.start) {
    if (tlb.fullmm) {
      flush_tlb_mm_range(*tlb.mm, Vaddr{0}, kTlbFlushAll);
    } else {
      flush_tlb_mm_range(*tlb.mm, tlb.start, tlb.end);
    }
  }
  for (const Pfn p : tlb.pages) k_.pages().put(p);
  if (!tlb.tables.empty() && k_.ops().tables_freed_after_grace_period()) {
    // tlb_remove_table: the batch is freed by an RCU callback (tlb_remove_table_rcu), once no
    // lockless walker can still be inside one of its tables.
    k_.ledger().charge(sim::Event::kGuestRcuTables, tlb.tables.size());
    KernelCore& core = k_;
    core.call_rcu([&core, tables = std::move(tlb.tables)] { free_tables(core, tables); });
  } else {
    free_tables(k_, tlb.tables);
  }
  tlb.pages.clear();
  tlb.tables.clear();
}

void PageTables::free_tables(KernelCore& core, const std::vector<std::pair<Pfn, PtLevel>>& tables) {
  for (const auto& [pfn, level] : tables) {
    sim::SpanScope span(core.ledger(), free_span(level), /*counts_instance=*/false);
    Page& pg = core.pages().page(pfn);
    if (pg.pinned && !pg.kept_pinned) model_bug("freeing a table page that is still pinned");
    core.ledger().charge(free_event(level));
    core.pt_pages().free(pfn, table_kind(level));
  }
}

}  // namespace pib::guest
