// SPDX-License-Identifier: MIT
#include "guest/pt_cache.hpp"

#include <string>

#include "common/error.hpp"

namespace pib::guest {

using sim::Event;

const char* cache_level_name(CacheLevel l) {
  switch (l) {
    case CacheLevel::kL1:
      return "l1";
    case CacheLevel::kL2:
      return "l2";
    case CacheLevel::kL3:
      return "l3";
    case CacheLevel::kPgd:
      return "pgd";
    case CacheLevel::kUserPgd:
      return "user_pgd";
  }
  return "?";
}

PageTableCache::PageTableCache(KernelCore& core, PtCacheParams params)
    : core_(core), params_(params) {
  if (params.refill_batch == 0 || params.release_batch == 0 || params.capacity == 0 ||
      params.high_watermark > params.capacity || params.low_watermark >= params.high_watermark) {
    throw InputError("ptcache: need 0 <= low < high <= capacity and non-zero batches");
  }
}

void PageTableCache::make_template(Pfn pfn, CacheLevel level) {
  // A fresh page: zeroed; a pgd gets the kernel half (pgd_ctor), a user pgd the vsyscall slot
  // — done once here instead of at every pgd_alloc.
  core_.zero_page(pfn);
  if (level == CacheLevel::kPgd) {
    for (uint64_t slot = kUserPgdSlots; slot < kEntriesPerTable; ++slot) {
      const uint64_t e = core_.read_entry(EntryRef{core_.layout().swapper_pgd, slot});
      if (e != 0) core_.write_entry_native(EntryRef{pfn, slot}, e);
    }
  } else if (level == CacheLevel::kUserPgd && core_.vsyscall_entry != 0) {
    core_.write_entry_native(EntryRef{pfn, kEntriesPerTable - 1}, core_.vsyscall_entry);
  }
}

void PageTableCache::refill(CacheLevel level) {
  std::vector<Pfn> fresh;
  for (uint32_t i = 0; i < params_.refill_batch; ++i) {
    const Pfn p = core_.pages().alloc(0);
    if (p == kInvalidPfn) break;
    make_template(p, level);
    fresh.push_back(p);
  }
  if (fresh.empty()) return;
  core_.ledger().charge(Event::kGuestPtCacheRefill, fresh.size());
  if (params_.pool_interface) core_.ops().pt_pool_add(fresh);  // one batch, one invalidation
  auto& pool = pools_[static_cast<std::size_t>(level)];
  pool.insert(pool.end(), fresh.begin(), fresh.end());
}

Pfn PageTableCache::alloc(CacheLevel level) {
  auto& pool = pools_[static_cast<std::size_t>(level)];
  core_.ledger().charge(Event::kGuestPtCacheOp);
  const bool miss = pool.empty();
  core_.ledger().charge(miss ? Event::kGuestPtCacheMiss : Event::kGuestPtCacheHit);
  if (pool.size() <= params_.low_watermark) refill(level);
  if (pool.empty()) throw OutOfMemory("guest out of memory (page-table cache cannot refill)");
  const Pfn p = pool.back();
  pool.pop_back();
  return p;
}

void PageTableCache::make_clean(Pfn pfn, CacheLevel level) {
  // The user part must be empty before the page can be handed to another process: a table
  // with stale entries would let that process reach someone else's memory.
  // (For the pgd levels only the user half: the kernel half, the vsyscall slot and Xen's
  // reserved slots are the same in every pgd.)
  const uint64_t last =
      level == CacheLevel::kPgd || level == CacheLevel::kUserPgd ? kUserPgdSlots : kEntriesPerTable;
  if (core_.page_words_zero(pfn, last)) return;  // the normal case: one scan of the page
  bool dirty = false;
  for (uint64_t i = 0; i < last; ++i) {
    if (core_.read_entry(EntryRef{pfn, i}) != 0) {
      core_.write_entry_native(EntryRef{pfn, i}, 0);
      dirty = true;
    }
  }
  if (dirty) core_.ledger().charge(Event::kGuestPtCacheDirty);
}

void PageTableCache::free(Pfn pfn, CacheLevel level) {
  auto& pool = pools_[static_cast<std::size_t>(level)];
  core_.ledger().charge(Event::kGuestPtCacheOp);
  make_clean(pfn, level);
  if (params_.pool_interface) core_.ops().pt_pool_add({pfn});  // no-op if still pooled
  pool.push_back(pfn);
  if (pool.size() > params_.high_watermark) {
    release(level,
            std::min<std::size_t>(params_.release_batch, pool.size() - params_.high_watermark));
  }
}

void PageTableCache::release(CacheLevel level, std::size_t count) {
  auto& pool = pools_[static_cast<std::size_t>(level)];
  std::vector<Pfn> out(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(count));
  pool.erase(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(count));
  if (params_.pool_interface) core_.ops().pt_pool_remove(out);  // DMA back, one batch
  for (const Pfn p : out) {
    core_.pages().page(p).pt_level = PtLevel::kNone;
    core_.pages().free(p);
  }
  core_.ledger().charge(Event::kGuestPtCacheRelease, out.size());
}

uint64_t PageTableCache::shrink(uint64_t pages) {
  uint64_t freed = 0;
  for (std::size_t l = 0; l < kCacheLevels && freed < pages; ++l) {
    const std::size_t n = std::min<std::size_t>(pools_[l].size(), pages - freed);
    if (n == 0) continue;
    release(static_cast<CacheLevel>(l), n);
    freed += n;
  }
  return freed;
}

}  // namespace pib::guest
