// SPDX-License-Identifier: MIT
// Tables kept validated between uses (TablePinPort): what a XenoLinux-style cache asks of the
// Xen pv-ops. A fresh page is made read-only in the direct map and pinned at its level in one
// multicall, as XenoLinux's pte_alloc_one slow path did; a page leaving the cache is unpinned
// (Xen devalidates it) and made writable again.
#include "common/error.hpp"
#include "guest/kernel_core.hpp"
#include "guest/xen/xen_pv_ops.hpp"

namespace pib::guest {

namespace {
uint32_t pin_command(TableKind kind) {
  switch (kind) {
    case TableKind::kL1:
      return abi::kMmuextPinL1Table;
    case TableKind::kL2:
      return abi::kMmuextPinL2Table;
    case TableKind::kL3:
      return abi::kMmuextPinL3Table;
    case TableKind::kPgd:
    case TableKind::kUserPgd:
      return abi::kMmuextPinL4Table;
  }
  model_bug("pin_command: bad table kind");
}
PtLevel level_of(TableKind kind) {
  return kind == TableKind::kL1   ? PtLevel::kPte
         : kind == TableKind::kL2 ? PtLevel::kPmd
         : kind == TableKind::kL3 ? PtLevel::kPud
                                  : PtLevel::kPgd;
}
}  // namespace

void XenPvOps::pin_tables(const std::vector<Pfn>& pages, TableKind kind) {
  if (pages.empty()) return;
  batch().flush();  // queued work that may name these frames goes first
  for (const Pfn p : pages) {
    Page& pg = core_->pages().page(p);
    if (pg.pinned) model_bug("pin_tables: page already pinned");
    pg.pinned = true;
    pg.kept_pinned = true;
    pg.pt_level = level_of(kind);
    set_pfn_prot(p, false, 0);
    do_pin(pin_command(kind), p);
  }
  batch().flush();
}

void XenPvOps::unpin_tables(const std::vector<Pfn>& pages, TableKind kind) {
  (void)kind;
  if (pages.empty()) return;
  batch().flush();
  for (const Pfn p : pages) {
    Page& pg = core_->pages().page(p);
    if (!pg.kept_pinned) model_bug("unpin_tables: page is not a kept table");
    do_pin(abi::kMmuextUnpinTable, p);
    set_pfn_prot(p, true, 0);
    pg.pinned = false;
    pg.kept_pinned = false;
  }
  batch().flush();
}

}  // namespace pib::guest
