// SPDX-License-Identifier: MIT
#include "pibooster/guest/pt_cache.hpp"

#include <algorithm>
#include <string>

#include "common/error.hpp"
#include "pibooster/guest/cache_rules.hpp"
#include "sim/ledger.hpp"

namespace pib::pibooster {

using guest::EntryRef;
using guest::kUserPgdSlots;
using guest::ReclaimFrom;
using sim::Event;

PageTableCache::PageTableCache(guest::KernelCore& core, PtCacheParams params,
                               guest::PtPoolPort& pool)
    : core_(core),
      params_(params),
      pool_(pool),
      levels_{Level(params.sizing), Level(params.sizing), Level(params.sizing),
              Level(params.sizing), Level(params.sizing)} {
  if (params.refill_batch == 0 || params.release_batch == 0 || params.capacity == 0 ||
      params.high_watermark > params.capacity || params.low_watermark >= params.high_watermark ||
      params.memory_cap == 0 || params.sizing.epoch_ops == 0 || params.sizing.keep_pct > 100) {
    throw InputError(
        "ptcache: need 0 <= low < high <= capacity, non-zero batches, memory_cap and epoch, "
        "keep_pct <= 100");
  }
}

void PageTableCache::make_template(Pfn pfn, TableKind kind) {
  // A fresh page: zeroed; a pgd gets the kernel half (pgd_ctor), a user pgd the vsyscall slot
  // — done once here instead of at every pgd_alloc.
  core_.zero_page(pfn);
  guest::construct_table(core_, pfn, kind);
}

uint64_t PageTableCache::ready_total() const {
  uint64_t n = 0;
  for (const Level& l : levels_) n += l.ready.size();
  return n;
}

uint64_t PageTableCache::owned() const {
  uint64_t n = 0;
  for (const Level& l : levels_) n += l.demand.in_use() + l.waiting + l.ready.size();
  return n;
}

uint64_t PageTableCache::refill_size(TableKind kind) const {
  if (!params_.adaptive) return params_.refill_batch;
  const Level& l = level(kind);
  return adaptive_refill_size(l.demand, l.waiting, l.ready.size(), ready_total(), limits());
}

void PageTableCache::refill(TableKind kind) {
  const uint64_t want = refill_size(kind);
  std::vector<Pfn> fresh;
  refilling_ = kind;
  for (uint64_t i = 0; i < want; ++i) {
    // With the shrinker, the allocation may reclaim (the other levels' ready pages included).
    const Pfn p = params_.shrinker ? core_.try_alloc_page() : core_.pages().alloc(0);
    if (p == kInvalidPfn) break;
    make_template(p, kind);
    fresh.push_back(p);
  }
  refilling_.reset();
  if (fresh.empty()) return;
  core_.ledger().charge(Event::kGuestPtCacheRefill, fresh.size());
  pool_.pool_add(fresh);  // one batch, one invalidation
  auto& ready = level(kind).ready;
  ready.insert(ready.end(), fresh.begin(), fresh.end());
  peak_owned_ = std::max(peak_owned_, owned());
}

Pfn PageTableCache::alloc(TableKind kind, const guest::Mm& /*mm*/) {
  Level& l = level(kind);
  core_.ledger().charge(Event::kGuestPtCacheOp);
  const bool miss = l.ready.empty();
  core_.ledger().charge(miss ? Event::kGuestPtCacheMiss : Event::kGuestPtCacheHit);
  // Demand is tracked in both sizing modes (for reports); only adaptive sizing acts on it.
  const bool resized = l.demand.on_alloc();
  uint64_t demand = 0;
  for (const Level& each : levels_) demand += each.demand.in_use() + each.waiting;
  peak_demand_ = std::max(peak_demand_, demand);
  if (params_.adaptive) {
    if (resized) core_.ledger().charge(Event::kGuestPtCacheResize);
    if (miss) refill(kind);
  } else if (l.ready.size() <= params_.low_watermark) {
    refill(kind);
  }
  if (l.ready.empty()) {
    throw guest::OutOfMemory("guest out of memory (page-table cache cannot refill)");
  }
  const Pfn p = l.ready.back();
  l.ready.pop_back();
  return p;
}

void PageTableCache::make_clean(Pfn pfn, TableKind kind) {
  // The user part must be empty before the page can be handed to another process: a table
  // with stale entries would let that process reach someone else's memory.
  // (For the pgd levels only the user half: the kernel half, the vsyscall slot and Xen's
  // reserved slots are the same in every pgd.)
  const uint64_t last =
      kind == TableKind::kPgd || kind == TableKind::kUserPgd ? kUserPgdSlots : kEntriesPerTable;
  if (core_.page_words_zero(pfn, last)) return;  // the normal case: one scan of the page
  bool dirty = false;
  for (auto e = core_.next_nonzero(pfn, 0, last); e.index < last;
       e = core_.next_nonzero(pfn, e.index + 1, last)) {
    core_.write_entry_native(EntryRef{pfn, e.index}, hw::Pte{});
    dirty = true;
  }
  if (dirty) core_.ledger().charge(Event::kGuestPtCacheDirty);
}

void PageTableCache::free(Pfn pfn, TableKind kind) {
  core_.ledger().charge(Event::kGuestPtCacheOp);
  if (level(kind).demand.on_free() && params_.adaptive) {
    core_.ledger().charge(Event::kGuestPtCacheResize);
  }
  // Where this kernel frees tables at once, the cache waits for the grace period itself.
  reuse_after_grace_period(core_, params_.rcu_reuse, kind, level(kind).waiting,
                           [this, pfn, kind] { accept(pfn, kind); });
}

void PageTableCache::accept(Pfn pfn, TableKind kind) {
  Level& l = level(kind);
  make_clean(pfn, kind);
  pool_.pool_add({pfn});  // no-op if still pooled
  l.ready.push_back(pfn);
  trim(kind);
}

void PageTableCache::trim(TableKind kind) {
  Level& l = level(kind);
  if (!params_.adaptive) {
    if (l.ready.size() > params_.high_watermark) {
      release(kind, std::min<std::size_t>(params_.release_batch,
                                          l.ready.size() - params_.high_watermark));
    }
    return;
  }
  const uint64_t excess = adaptive_excess(l.demand, l.ready.size(), ready_total(), limits());
  if (excess != 0) release(kind, excess);
}

void PageTableCache::release(TableKind kind, std::size_t count) {
  auto& ready = level(kind).ready;
  std::vector<Pfn> out(ready.begin(), ready.begin() + static_cast<std::ptrdiff_t>(count));
  ready.erase(ready.begin(), ready.begin() + static_cast<std::ptrdiff_t>(count));
  pool_.pool_remove(out);  // DMA back, one batch
  for (const Pfn p : out) {
    guest::destruct_table(core_, p, kind);  // a cached pgd stays on pgd_list until here
    core_.pages().page(p).pt_level = guest::PtLevel::kNone;
    core_.pages().free(p);
  }
  core_.ledger().charge(Event::kGuestPtCacheRelease, out.size());
}

uint64_t PageTableCache::reclaim(uint64_t pages, ReclaimFrom who) {
  // Without the shrinker only an allocation that failed outright gets pages back.
  if (!params_.shrinker && who != ReclaimFrom::kDirect) return 0;
  uint64_t freed = 0;
  for (std::size_t k = 0; k < guest::kTableKinds && freed < pages; ++k) {
    const auto kind = static_cast<TableKind>(k);
    if (refilling_ == kind) continue;
    Level& l = levels_[k];
    const std::size_t n = std::min<std::size_t>(l.ready.size(), pages - freed);
    if (n == 0) continue;
    release(kind, n);
    freed += n;
    if (params_.adaptive) l.demand.clamp_target(l.demand.in_use() + l.ready.size() + l.waiting);
  }
  return freed;
}

std::vector<std::pair<std::string, uint64_t>> PageTableCache::held() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (std::size_t k = 0; k < guest::kTableKinds; ++k) {
    out.emplace_back(std::string(guest::table_kind_name(static_cast<TableKind>(k))),
                     levels_[k].ready.size());
  }
  return out;
}

}  // namespace pib::pibooster
