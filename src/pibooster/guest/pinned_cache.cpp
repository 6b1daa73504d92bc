// SPDX-License-Identifier: MIT
#include "pibooster/guest/pinned_cache.hpp"

#include <algorithm>
#include <string>

#include "common/error.hpp"
#include "sim/ledger.hpp"

namespace pib::pibooster {

using guest::kUserPgdSlots;
using sim::Event;

namespace {
bool freed_through_rcu(TableKind kind) {
  return kind == TableKind::kL1 || kind == TableKind::kL2 || kind == TableKind::kL3;
}
sim::Span free_span(TableKind kind) {
  return kind == TableKind::kL1   ? sim::Span::kPtFreeL1
         : kind == TableKind::kL2 ? sim::Span::kPtFreeL2
                                  : sim::Span::kPtFreeL3;
}
}  // namespace

PinnedTableCache::PinnedTableCache(guest::KernelCore& core, PinnedCacheParams params,
                                   guest::TablePinPort& pin, guest::PtPoolPort& pool)
    : core_(core), params_(params), pin_(pin), pool_(pool) {
  if (params.refill_batch == 0 || params.release_batch == 0 || params.high_watermark == 0) {
    throw InputError("pinned table cache: need non-zero refill and release batches and watermark");
  }
}

void PinnedTableCache::refill(TableKind kind) {
  std::vector<Pfn> fresh;
  refilling_ = true;
  for (uint32_t i = 0; i < params_.refill_batch; ++i) {
    const Pfn p = core_.try_alloc_page();
    if (p == kInvalidPfn) break;
    core_.zero_page(p);
    guest::construct_table(core_, p, kind);
    fresh.push_back(p);
  }
  refilling_ = false;
  if (fresh.empty()) return;
  core_.ledger().charge(Event::kGuestPtCacheRefill, fresh.size());
  pool_.pool_add(fresh);         // with the pool: out of DMA first, one invalidation
  pin_.pin_tables(fresh, kind);  // read-only and validated, one multicall
  auto& ready = level(kind).ready;
  ready.insert(ready.end(), fresh.rbegin(), fresh.rend());
}

Pfn PinnedTableCache::alloc(TableKind kind, const guest::Mm& /*mm*/) {
  Level& l = level(kind);
  core_.ledger().charge(Event::kGuestPtCacheOp);
  core_.ledger().charge(l.ready.empty() ? Event::kGuestPtCacheMiss : Event::kGuestPtCacheHit);
  if (l.ready.empty()) refill(kind);
  if (l.ready.empty()) {
    throw guest::OutOfMemory("guest out of memory (pinned table cache cannot refill)");
  }
  const Pfn p = l.ready.back();
  l.ready.pop_back();
  return p;
}

void PinnedTableCache::free(Pfn pfn, TableKind kind) {
  core_.ledger().charge(Event::kGuestPtCacheOp);
  if (!core_.pages().page(pfn).kept_pinned) model_bug("pinned table cache: freed an unkept table");
  if (params_.rcu_reuse && freed_through_rcu(kind) &&
      !core_.ops().tables_freed_after_grace_period()) {
    level(kind).waiting++;
    core_.ledger().charge(Event::kGuestPtCacheRcuWait);
    core_.call_rcu([this, pfn, kind] {
      sim::SpanScope span(core_.ledger(), free_span(kind), /*counts_instance=*/false);
      level(kind).waiting--;
      accept(pfn, kind);
    });
    return;
  }
  accept(pfn, kind);
}

void PinnedTableCache::accept(Pfn pfn, TableKind kind) {
  // Handing a table with a stale entry to another process would let it reach this one's pages;
  // a kept table cannot be cleared with plain stores, so one that is not empty leaves the cache.
  const uint64_t user_words =
      kind == TableKind::kPgd || kind == TableKind::kUserPgd ? kUserPgdSlots : kEntriesPerTable;
  if (!core_.page_words_zero(pfn, user_words)) {
    core_.ledger().charge(Event::kGuestPtCacheDirty);
    release(kind, {pfn});
    return;
  }
  Level& l = level(kind);
  l.ready.push_back(pfn);
  if (l.ready.size() > params_.high_watermark) {
    const std::size_t n =
        std::min<std::size_t>(params_.release_batch, l.ready.size() - params_.high_watermark);
    std::vector<Pfn> out(l.ready.begin(), l.ready.begin() + static_cast<std::ptrdiff_t>(n));
    l.ready.erase(l.ready.begin(), l.ready.begin() + static_cast<std::ptrdiff_t>(n));
    release(kind, std::move(out));
  }
}

void PinnedTableCache::release(TableKind kind, std::vector<Pfn> pages) {
  pin_.unpin_tables(pages, kind);  // devalidated by Xen, writable again
  pool_.pool_remove(pages);
  for (const Pfn p : pages) {
    // A table that left dirty still holds its stale entries: clear them before the page is
    // anyone else's (it is writable now).
    const uint64_t words =
        kind == TableKind::kPgd || kind == TableKind::kUserPgd ? kUserPgdSlots : kEntriesPerTable;
    if (!core_.page_words_zero(p, words)) core_.zero_page(p);
    core_.pages().page(p).pt_level = guest::PtLevel::kNone;
    core_.pages().free(p);
  }
  core_.ledger().charge(Event::kGuestPtCacheRelease, pages.size());
}

uint64_t PinnedTableCache::reclaim(uint64_t pages, guest::ReclaimFrom /*who*/) {
  if (refilling_) return 0;
  uint64_t freed = 0;
  for (std::size_t k = 0; k < guest::kTableKinds && freed < pages; ++k) {
    Level& l = levels_[k];
    const std::size_t n = std::min<std::size_t>(l.ready.size(), pages - freed);
    if (n == 0) continue;
    std::vector<Pfn> out(l.ready.begin(), l.ready.begin() + static_cast<std::ptrdiff_t>(n));
    l.ready.erase(l.ready.begin(), l.ready.begin() + static_cast<std::ptrdiff_t>(n));
    release(static_cast<TableKind>(k), std::move(out));
    freed += n;
  }
  return freed;
}

std::vector<std::pair<std::string, uint64_t>> PinnedTableCache::held() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (std::size_t k = 0; k < guest::kTableKinds; ++k) {
    out.emplace_back("pinned_" + std::string(guest::table_kind_name(static_cast<TableKind>(k))),
                     levels_[k].ready.size());
  }
  return out;
}

}  // namespace pib::pibooster
