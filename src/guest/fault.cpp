// SPDX-License-Identifier: MIT
// The page-fault handler (handle_mm_fault and the do_*_page paths of mm/memory.c): demand-zero
// anonymous pages (the shared zero page for reads), page-cache pages for file mappings
// (private writes copy), and write-protect faults that copy or reuse (copy-on-write).
#include <algorithm>

#include "common/error.hpp"
#include "guest/kernel.hpp"
#include "guest/pgtable.hpp"

namespace pib::guest {

using sim::Event;

uint64_t Kernel::user_pte_flags(const Vma& vma, bool writable, bool dirty) const {
  uint64_t f = ptflags::kPresent | ptflags::kUser | ptflags::kAccessed;
  if (writable) f |= ptflags::kRw;
  if (dirty) f |= ptflags::kDirty;
  if (!(vma.prot & prot::kExec)) f |= ptflags::kNx;
  return f;
}

bool Kernel::handle_mm_fault(Mm& mm, Vaddr va, hw::Access access) {
  core_.ledger().charge(Event::kGuestFault);
  Vma* vma = mm.find_vma(va.value);
  const bool write = access == hw::Access::kWrite;
  const bool allowed =
      vma != nullptr && (write                            ? vma->writable()
                         : access == hw::Access::kExecute ? (vma->prot & prot::kExec) != 0
                                                          : (vma->prot & prot::kRead) != 0);
  if (!allowed) {
    core_.ledger().charge(Event::kGuestFaultSegv);
    return false;
  }
  PageTables pt(core_);
  const Vaddr page_va = align_down(va, kPageSize);
  const EntryRef e = pt.alloc_walk(mm, page_va);
  const hw::Pte old = core_.read_entry(e);
  if (!old.present()) {
    if (vma->kind == VmaKind::kFile) return do_file_page(mm, *vma, e, page_va, write);
    return do_anonymous_page(mm, *vma, e, write);
  }
  if (write && !old.has(ptflags::kRw)) return do_wp_page(mm, *vma, e, page_va, old);
  // Spurious (another path already fixed it, or a stale TLB entry): the retry re-walks.
  return true;
}

bool Kernel::do_anonymous_page(Mm& mm, Vma& vma, EntryRef e, bool write) {
  core_.ledger().charge(Event::kGuestFaultDemandZero);
  if (!write && !vma.shared) {
    // Read of never-written anonymous memory: the shared zero page, read-only.
    core_.ops().set_pte(e, core_.ops().make_entry(zero_page_, user_pte_flags(vma, false, false)));
    mm.rss++;
    return true;
  }
  const Pfn page = core_.alloc_page(true);
  Page& pg = core_.pages().page(page);
  pg.anon = true;
  pg.mapcount = 1;
  vma.anon_vma = true;
  core_.ops().set_pte(e, core_.ops().make_entry(page, user_pte_flags(vma, vma.writable(), write)));
  mm.rss++;
  return true;
}

bool Kernel::do_file_page(Mm& mm, Vma& vma, EntryRef e, Vaddr va, bool write) {
  core_.ledger().charge(Event::kGuestFaultFile);
  const uint64_t index = vma.pgoff + ((va - Vaddr{vma.start}) >> kPageShift);
  if (write && !vma.shared) {
    // do_cow_fault: the process gets its own copy of the file page.
    const Pfn cached = cache_.get(vma.file, index);
    const Pfn page = core_.alloc_page(false);
    core_.copy_page(page, cached);
    Page& pg = core_.pages().page(page);
    pg.anon = true;
    pg.mapcount = 1;
    vma.anon_vma = true;
    core_.ops().set_pte(e, core_.ops().make_entry(page, user_pte_flags(vma, true, true)));
    mm.rss++;
    return true;
  }
  // do_read_fault tries fault-around first; a page it could not map is read in (__do_fault).
  if (!write && vma.map_pages && do_fault_around(mm, vma, e, va)) return true;
  map_file_page(mm, vma, e, cache_.get(vma.file, index), write);
  return true;
}

void Kernel::map_file_page(Mm& mm, const Vma& vma, EntryRef e, Pfn cached, bool dirty) {
  Page& pg = core_.pages().page(cached);
  pg.refcount++;
  pg.mapcount++;
  const bool writable = vma.shared && vma.writable();
  core_.ops().set_pte(e, core_.ops().make_entry(cached, user_pte_flags(vma, writable, dirty)));
  mm.rss++;
}

bool Kernel::do_fault_around(Mm& mm, const Vma& vma, EntryRef e, Vaddr va) {
  // Linux's fault_around_bytes (64 KiB): the aligned window around the fault, clipped to the
  // VMA and to the L1 table the faulting entry is in. Only pages already in the page cache are
  // mapped (filemap_map_pages never reads), each with its own set_pte outside lazy-MMU mode.
  constexpr uint64_t kWindow = kFaultAroundPages * kPageSize;
  constexpr uint64_t kL1Span = kEntriesPerTable * kPageSize;
  const auto [vma_start, vma_end] = vma.range();
  const Vaddr window = align_down(va, kWindow);
  const Vaddr l1_start = align_down(va, kL1Span);
  const Vaddr start = std::max({window, vma_start, l1_start});
  const Vaddr end = std::min({window + kWindow, vma_end, l1_start + kL1Span});
  bool mapped_fault = false;
  for (Vaddr a = start; a < end; a += kPageSize) {
    const std::optional<Pfn> cached =
        cache_.find(vma.file, vma.pgoff + ((a - vma_start) >> kPageShift));
    if (!cached) continue;
    const EntryRef pte{e.table, table_index(a, 1)};
    if (core_.read_entry(pte).present()) continue;
    map_file_page(mm, vma, pte, *cached, false);
    if (a == align_down(va, kPageSize)) {
      mapped_fault = true;
    } else {
      core_.ledger().charge(Event::kGuestFaultAroundPages);
    }
  }
  return mapped_fault;
}

bool Kernel::do_wp_page(Mm& mm, Vma& vma, EntryRef e, Vaddr va, hw::Pte old) {
  const Pfn old_page = core_.ops().entry_pfn(old);
  Page& opg = core_.pages().page(old_page);
  PageTables pt(core_);
  if (vma.shared) {
    // A shared writable mapping mapped read-only (e.g. after a read fault): make it writable.
    core_.ops().set_pte(e, old.with(ptflags::kRw | ptflags::kDirty | ptflags::kAccessed));
    return true;
  }
  if (opg.anon && opg.refcount == 1 && old_page != zero_page_) {
    // wp_page_reuse: the page is ours alone; ptep_set_access_flags makes it writable.
    core_.ledger().charge(Event::kGuestFaultCowReuse);
    core_.ops().set_pte(e, old.with(ptflags::kRw | ptflags::kDirty | ptflags::kAccessed));
    return true;
  }
  // wp_page_copy: a private copy (zeroed when the old page is the zero page).
  core_.ledger().charge(Event::kGuestFaultCowCopy);
  const bool from_zero = old_page == zero_page_;
  const Pfn page = core_.alloc_page(from_zero);
  if (!from_zero) core_.copy_page(page, old_page);
  Page& pg = core_.pages().page(page);
  pg.anon = true;
  pg.mapcount = 1;
  vma.anon_vma = true;
  // ptep_clear_flush: clear the entry (a native xchg) and flush this page from the TLBs.
  core_.ops().ptep_get_and_clear(e, false);
  pt.flush_tlb_mm_range(mm, va, va + kPageSize);
  core_.ops().set_pte(e, core_.ops().make_entry(page, user_pte_flags(vma, true, true)));
  if (!from_zero) {
    opg.mapcount--;
    core_.pages().put(old_page);
  }
  return true;
}

}  // namespace pib::guest
