// SPDX-License-Identifier: MIT
// PiBooster-plus: PiBooster's page-table pool under two caches, chosen per address space.
//  - sparse trees are built from tables kept validated between uses (PinnedTableCache): nothing
//    to pin at fork or exec, nothing to unpin at exit; each present entry is validated by Xen
//    as it is written and cleared through Xen at exit;
//  - dense trees are built from PiBooster's cache of writable pooled pages, pinned as a tree
//    (one 512-entry scan per table instead of a hypercall request per entry).
// The choice has to be per tree, not per table: Linux links a new table into its parent before
// filling it (pmd_populate, then the copy), and Xen refuses a link from a validated table to a
// writable page, so a table built writable needs its whole path to the pgd built writable too.
// At fork the child copies its parent, whose size the kernel already knows (mm->rss and its
// page-table pages, as Linux's counters have them); exec starts sparse. The threshold, present
// entries per table above which a writable tree costs Xen less, comes from the cost profile
// (DensityThreshold below), not from a constant.
#pragma once

#include <array>

#include "pibooster/guest/pinned_cache.hpp"
#include "pibooster/guest/pt_cache.hpp"
#include "sim/events.hpp"

namespace pib::pibooster {

// Present entries per table at which both ways cost Xen the same over a fork and an exit. Per
// table, a writable one pays the fixed and per-entry parts of a validation and a devalidation,
// two remaps and a pin and an unpin command; a kept one pays a hypercall to link it into its
// validated parent and one to unlink it. Per present entry, a kept table pays the reference
// counting of a validated update at fork and of a clear at exit plus the clear's request, less
// the per-present-entry parts of the scans it avoids.
struct DensityThreshold {
  double writable_table_ns = 0;  // per table built writable
  double kept_table_ns = 0;      // per table kept
  double kept_entry_ns = 0;      // per present entry of a kept table, beyond a writable one
  double entries = 0;  // the break-even, per table; kEntriesPerTable when kept always wins
  static DensityThreshold from_costs(const std::array<double, sim::kEventCount>& ns);
};

class HybridTableSource final : public guest::PtPageSource {
 public:
  HybridTableSource(guest::KernelCore& core, const PtCacheParams& writable, PinnedCacheParams kept,
                    guest::TablePinPort& pin, guest::PtPoolPort& pool, DensityThreshold threshold);

  std::string_view name() const override { return "pibooster-plus"; }
  Pfn alloc(TableKind kind, const guest::Mm& mm) override;
  void free(Pfn pfn, TableKind kind) override;
  bool constructed(TableKind kind) const override {
    (void)kind;
    return true;  // both caches hand out constructed pgds
  }
  uint64_t reclaim(uint64_t pages, guest::ReclaimFrom who) override;
  std::vector<std::pair<std::string, uint64_t>> held() const override;

  const DensityThreshold& threshold() const { return threshold_; }
  // Whether a tree copied from `parent` is built writable (dense) rather than kept.
  bool dense(const guest::Mm& parent) const;

 private:
  guest::KernelCore& core_;
  PinnedTableCache kept_;
  PageTableCache writable_;
  DensityThreshold threshold_;
};

}  // namespace pib::pibooster
