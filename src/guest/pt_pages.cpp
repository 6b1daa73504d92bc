// SPDX-License-Identifier: MIT
#include "guest/pt_pages.hpp"

#include "guest/kernel_core.hpp"

namespace pib::guest {

void construct_table(KernelCore& core, Pfn pfn, TableKind kind) {
  if (kind == TableKind::kPgd) {
    // A memcpy of the 256 kernel entries; the page is zero, so copying the non-zero ones is
    // the same.
    const Pfn from = core.layout().swapper_pgd;
    for (auto e = core.next_nonzero(from, kUserPgdSlots); e.index < kEntriesPerTable;
         e = core.next_nonzero(from, e.index + 1)) {
      core.write_entry_native(EntryRef{pfn, e.index}, e.entry);
    }
  } else if (kind == TableKind::kUserPgd && core.vsyscall_entry != hw::Pte{}) {
    // The vsyscall page's L3 (slot 511: VSYSCALL_ADDR).
    core.write_entry_native(EntryRef{pfn, kEntriesPerTable - 1}, core.vsyscall_entry);
  }
  if (is_root(kind)) core.pgd_list_add(pfn, kind);
}

void destruct_table(KernelCore& core, Pfn pfn, TableKind kind) {
  if (is_root(kind)) core.pgd_list_del(pfn);
}

Pfn PageAllocatorSource::alloc(TableKind kind, const Mm& /*mm*/) {
  (void)kind;
  return core_.alloc_page(true);
}

void PageAllocatorSource::free(Pfn pfn, TableKind kind) {
  (void)kind;
  core_.pages().page(pfn).pt_level = PtLevel::kNone;
  core_.pages().free(pfn);
}

}  // namespace pib::guest
