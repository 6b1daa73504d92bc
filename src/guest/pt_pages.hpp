// SPDX-License-Identifier: MIT
// Where the kernel's page-table pages come from and where freed ones go: the seam for designs
// that keep page-table pages ready (PiBooster's cache and others, src/pibooster/guest/).
//
// Called by: the generic mm code for every table it allocates (pte/pmd/pud_alloc_one,
// _pgd_alloc) and frees (tlb_finish_mmu, pgd_free), and by the platform pv-ops for tables of
// their own (the Xen user pgd); by the page allocator's caller under memory pressure. A source
// may keep pages, use the platform's page-table pool (PtPoolPort), and charge its own work; it
// touches memory only through the KernelCore.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/names.hpp"
#include "common/types.hpp"
#include "guest/mm_types.hpp"

namespace pib::guest {

class KernelCore;

// The kinds of page-table page a source hands out.
enum class TableKind : uint8_t { kL1, kL2, kL3, kPgd, kUserPgd };
inline constexpr std::size_t kTableKinds = 5;
inline constexpr auto kTableKindNames =
    make_names<TableKind>("table kind", {{TableKind::kL1, "l1"},
                                         {TableKind::kL2, "l2"},
                                         {TableKind::kL3, "l3"},
                                         {TableKind::kPgd, "pgd"},
                                         {TableKind::kUserPgd, "user_pgd"}});
inline std::string_view table_kind_name(TableKind kind) {
  return kTableKindNames.name_of(kind);
}
constexpr TableKind table_kind(PtLevel level) {
  return level == PtLevel::kPte   ? TableKind::kL1
         : level == PtLevel::kPmd ? TableKind::kL2
         : level == PtLevel::kPud ? TableKind::kL3
                                  : TableKind::kPgd;
}

// Who asks a source to give pages back: kswapd (free memory fell below the low watermark) or
// direct reclaim (an allocation failed).
enum class ReclaimFrom : uint8_t { kKswapd, kDirect };
// How many pages one direct reclaim asks for (Linux's SWAP_CLUSTER_MAX batches reclaim by 32).
inline constexpr uint64_t kDirectReclaimPages = 64;

class PtPageSource {
 public:
  virtual ~PtPageSource() = default;
  virtual std::string_view name() const = 0;

  // A page for a new table of `kind` in `mm`, all entries zero, except where constructed(kind):
  // then a pgd already has its kernel half and a user pgd its vsyscall slot. The page is
  // writable, unless the source marks it kept_pinned (then it is validated at its level and
  // read-only, and stays so when freed). Throws OutOfMemory.
  virtual Pfn alloc(TableKind kind, const Mm& mm) = 0;
  // A table the kernel no longer uses: the pv hooks have released it (writable, unpinned, unless
  // kept_pinned) and the teardown has cleared the entries it knew of.
  virtual void free(Pfn pfn, TableKind kind) = 0;
  // Slab-constructor semantics: pages of this kind come out already constructed (and go back
  // in that state), so the caller skips the constructor.
  virtual bool constructed(TableKind kind) const = 0;
  // Memory pressure (its shrinker): give back up to `pages` pages the source holds; returns
  // how many. Pages still waiting for an RCU grace period are not reclaimable.
  virtual uint64_t reclaim(uint64_t pages, ReclaimFrom who) {
    (void)pages, (void)who;
    return 0;
  }
  // Pages held, per kind, for reports (empty for a source that never holds any).
  virtual std::vector<std::pair<std::string, uint64_t>> held() const { return {}; }
};

// The constructor of a table page of `kind` (slab-constructor semantics): a pgd gets the
// kernel half from swapper_pg_dir (pgd_ctor), a user pgd the vsyscall slot; both go on the
// pgd list (KernelCore::pgd_list). Other kinds: nothing.
void construct_table(KernelCore& core, Pfn pfn, TableKind kind);
// Its destructor, before a constructed page goes back to the page allocator (pgd_dtor: off the
// pgd list). A source that keeps constructed pages calls it only when it gives one up.
void destruct_table(KernelCore& core, Pfn pfn, TableKind kind);
constexpr bool is_root(TableKind kind) {
  return kind == TableKind::kPgd || kind == TableKind::kUserPgd;
}

// Linux's own: zeroed pages from the page allocator (GFP_PGTABLE_USER), freed straight back.
class PageAllocatorSource final : public PtPageSource {
 public:
  explicit PageAllocatorSource(KernelCore& core) : core_(core) {}
  std::string_view name() const override { return "page-allocator"; }
  Pfn alloc(TableKind kind, const Mm& mm) override;
  void free(Pfn pfn, TableKind kind) override;
  bool constructed(TableKind kind) const override {
    (void)kind;
    return false;
  }

 private:
  KernelCore& core_;
};

}  // namespace pib::guest
