// SPDX-License-Identifier: MIT
#include "pibooster/guest/pinned_cache.hpp"

#include <algorithm>
#include <string>

#include "common/error.hpp"
#include "pibooster/guest/cache_rules.hpp"
#include "sim/ledger.hpp"

namespace pib::pibooster {

using guest::kUserPgdSlots;
using sim::Event;

PinnedTableCache::PinnedTableCache(guest::KernelCore& core, PinnedCacheParams params,
                                   guest::TablePinPort& pin, guest::PtPoolPort& pool)
    : core_(core),
      params_(params),
      pin_(pin),
      pool_(pool),
      levels_{Level(params.sizing), Level(params.sizing), Level(params.sizing),
              Level(params.sizing), Level(params.sizing)} {
  if (params.refill_batch == 0 || params.release_batch == 0 || params.high_watermark == 0 ||
      params.capacity == 0 || params.memory_cap == 0 || params.sizing.epoch_ops == 0 ||
      params.sizing.keep_pct > 100) {
    throw InputError(
        "pinned table cache: need non-zero batches, watermark, capacity, memory_cap and epoch, "
        "keep_pct <= 100");
  }
}

uint64_t PinnedTableCache::ready_total() const {
  uint64_t n = 0;
  for (const Level& l : levels_) n += l.ready.size();
  return n;
}

uint64_t PinnedTableCache::refill_size(TableKind kind) const {
  if (!params_.adaptive) return params_.refill_batch;
  const Level& l = level(kind);
  return adaptive_refill_size(l.demand, l.waiting, l.ready.size(), ready_total(), limits());
}

void PinnedTableCache::refill(TableKind kind) {
  std::vector<Pfn> fresh;
  refilling_ = true;
  const uint64_t want = refill_size(kind);
  for (uint64_t i = 0; i < want; ++i) {
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
  if (l.demand.on_alloc() && params_.adaptive) core_.ledger().charge(Event::kGuestPtCacheResize);
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
  if (level(kind).demand.on_free() && params_.adaptive) {
    core_.ledger().charge(Event::kGuestPtCacheResize);
  }
  reuse_after_grace_period(core_, params_.rcu_reuse, kind, level(kind).waiting,
                           [this, pfn, kind] { accept(pfn, kind); });
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
  level(kind).ready.push_back(pfn);
  trim(kind);
}

void PinnedTableCache::trim(TableKind kind) {
  Level& l = level(kind);
  uint64_t excess = 0;
  if (!params_.adaptive) {
    if (l.ready.size() > params_.high_watermark) {
      excess = std::min<uint64_t>(params_.release_batch, l.ready.size() - params_.high_watermark);
    }
  } else {
    excess = adaptive_excess(l.demand, l.ready.size(), ready_total(), limits());
  }
  if (excess == 0) return;
  std::vector<Pfn> out(l.ready.begin(), l.ready.begin() + static_cast<std::ptrdiff_t>(excess));
  l.ready.erase(l.ready.begin(), l.ready.begin() + static_cast<std::ptrdiff_t>(excess));
  release(kind, std::move(out));
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
    guest::destruct_table(core_, p, kind);
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
    if (params_.adaptive) l.demand.clamp_target(l.demand.in_use() + l.ready.size() + l.waiting);
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
