// SPDX-License-Identifier: MIT
// Linux's quicklists (mm/quicklist.c, used by x86-64 for a while from 2007; removed in 5.4) as
// a page-table page source on Xen PV — a what-if, since the two never shipped together: the
// example of docs/adding-a-policy.md.
//
// Freed table pages go onto a LIFO list instead of back to the page allocator, in the state a
// table is freed in — empty — so a hit skips the allocator and the zeroing; pgds have their own
// list and keep their kernel half (quicklist_alloc runs pgd_ctor only on a fresh page). Page
// tables of the other levels share one list (zeroed pages are interchangeable). There is no
// refill batching: a miss takes one page from the allocator. After each free the list is
// trimmed as quicklist_trim does from check_pgt_cache: above max(free memory / 16 / CPUs, 25)
// pages, at most 16 pages go back at once. The Xen user pgd is not a quicklist page (Linux's
// xen_pgd_alloc takes it from the page allocator). Nothing changes on Xen's side: a cached page
// was released writable before it reached the list, so reuse still pays the full pin path.
#include <algorithm>
#include <vector>

#include "guest/kernel_core.hpp"
#include "guest/pt_pages.hpp"

namespace pib::pibooster {

namespace {

using guest::TableKind;
using sim::Event;

constexpr uint64_t kMinPages = 25;              // quicklist_trim(..., min_pages = 25, ...)
constexpr uint64_t kMaxFreeAtOnce = 16;         // ... max_free = 16
constexpr uint64_t kFractionOfFreeMemory = 16;  // FRACTION_OF_NODE_MEM

class LinuxQuicklist final : public guest::PtPageSource {
 public:
  explicit LinuxQuicklist(guest::KernelCore& core) : core_(core) {}
  std::string_view name() const override { return "linux-quicklist"; }

  Pfn alloc(TableKind kind, const guest::Mm& /*mm*/) override {
    if (kind == TableKind::kUserPgd) return core_.alloc_page(true);
    std::vector<Pfn>& list = list_of(kind);
    core_.ledger().charge(Event::kGuestPtCacheOp);
    if (list.empty()) {
      core_.ledger().charge(Event::kGuestPtCacheMiss);
      const Pfn fresh = core_.alloc_page(true);
      guest::construct_table(core_, fresh, kind);  // pgd_ctor on a fresh pgd only
      return fresh;
    }
    core_.ledger().charge(Event::kGuestPtCacheHit);
    const Pfn p = list.back();
    list.pop_back();
    return p;
  }

  void free(Pfn pfn, TableKind kind) override {
    if (kind == TableKind::kUserPgd) {
      to_allocator(pfn);
      return;
    }
    std::vector<Pfn>& list = list_of(kind);
    core_.ledger().charge(Event::kGuestPtCacheOp);
    list.push_back(pfn);
    trim(list);
  }

  bool constructed(TableKind kind) const override { return kind == TableKind::kPgd; }

  uint64_t reclaim(uint64_t pages, guest::ReclaimFrom who) override {
    if (who != guest::ReclaimFrom::kDirect) return 0;  // trimmed by its own rule, not kswapd
    uint64_t freed = 0;
    for (std::vector<Pfn>* list : {&tables_, &pgds_}) {
      while (freed < pages && !list->empty()) {
        release(list->back(), kind_of(*list));
        list->pop_back();
        ++freed;
      }
    }
    return freed;
  }

  std::vector<std::pair<std::string, uint64_t>> held() const override {
    return {{"tables", tables_.size()}, {"pgd", pgds_.size()}};
  }

 private:
  std::vector<Pfn>& list_of(TableKind kind) { return kind == TableKind::kPgd ? pgds_ : tables_; }
  // The kind that matters when a page leaves a list (the pgds were constructed).
  TableKind kind_of(const std::vector<Pfn>& list) const {
    return &list == &pgds_ ? TableKind::kPgd : TableKind::kL1;
  }

  void trim(std::vector<Pfn>& list) {
    const uint64_t limit =
        std::max(kMinPages, core_.pages().free_pages() / kFractionOfFreeMemory / core_.nr_cpus());
    uint64_t n = 0;
    while (list.size() > limit && n < kMaxFreeAtOnce) {
      release(list.front(), kind_of(list));  // the coldest page
      list.erase(list.begin());
      ++n;
    }
  }

  void to_allocator(Pfn pfn) {
    core_.pages().page(pfn).pt_level = guest::PtLevel::kNone;
    core_.pages().free(pfn);
  }
  void release(Pfn pfn, TableKind kind) {     // a listed page back to the allocator
    guest::destruct_table(core_, pfn, kind);  // pgd_dtor when a cached pgd leaves
    to_allocator(pfn);
    core_.ledger().charge(Event::kGuestPtCacheRelease);
  }

  guest::KernelCore& core_;
  std::vector<Pfn> tables_;  // QUICK_PT: L1, L2 and L3 pages
  std::vector<Pfn> pgds_;    // QUICK_PGD
};

}  // namespace

std::unique_ptr<guest::PtPageSource> make_linux_quicklist(guest::KernelCore& core) {
  return std::make_unique<LinuxQuicklist>(core);
}

}  // namespace pib::pibooster
