// SPDX-License-Identifier: MIT
#include "pibooster/guest/pt_cache.hpp"

#include <string>

#include "common/error.hpp"

namespace pib::pibooster {

using guest::EntryRef;
using guest::kUserPgdSlots;
using sim::Event;

PageTableCache::PageTableCache(guest::KernelCore& core, PtCacheParams params,
                               guest::PtPoolPort& pool)
    : core_(core), params_(params), pool_(pool) {
  if (params.refill_batch == 0 || params.release_batch == 0 || params.capacity == 0 ||
      params.high_watermark > params.capacity || params.low_watermark >= params.high_watermark) {
    throw InputError("ptcache: need 0 <= low < high <= capacity and non-zero batches");
  }
}

void PageTableCache::make_template(Pfn pfn, TableKind kind) {
  // A fresh page: zeroed; a pgd gets the kernel half (pgd_ctor), a user pgd the vsyscall slot
  // — done once here instead of at every pgd_alloc.
  core_.zero_page(pfn);
  guest::construct_table(core_, pfn, kind);
}

void PageTableCache::refill(TableKind kind) {
  std::vector<Pfn> fresh;
  for (uint32_t i = 0; i < params_.refill_batch; ++i) {
    const Pfn p = core_.pages().alloc(0);
    if (p == kInvalidPfn) break;
    make_template(p, kind);
    fresh.push_back(p);
  }
  if (fresh.empty()) return;
  core_.ledger().charge(Event::kGuestPtCacheRefill, fresh.size());
  pool_.pool_add(fresh);  // one batch, one invalidation
  auto& pool = pools_[static_cast<std::size_t>(kind)];
  pool.insert(pool.end(), fresh.begin(), fresh.end());
}

Pfn PageTableCache::alloc(TableKind kind) {
  auto& pool = pools_[static_cast<std::size_t>(kind)];
  core_.ledger().charge(Event::kGuestPtCacheOp);
  const bool miss = pool.empty();
  core_.ledger().charge(miss ? Event::kGuestPtCacheMiss : Event::kGuestPtCacheHit);
  if (pool.size() <= params_.low_watermark) refill(kind);
  if (pool.empty())
    throw guest::OutOfMemory("guest out of memory (page-table cache cannot refill)");
  const Pfn p = pool.back();
  pool.pop_back();
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
  for (uint64_t i = 0; i < last; ++i) {
    if (core_.read_entry(EntryRef{pfn, i}) != hw::Pte{}) {
      core_.write_entry_native(EntryRef{pfn, i}, hw::Pte{});
      dirty = true;
    }
  }
  if (dirty) core_.ledger().charge(Event::kGuestPtCacheDirty);
}

void PageTableCache::free(Pfn pfn, TableKind kind) {
  auto& pool = pools_[static_cast<std::size_t>(kind)];
  core_.ledger().charge(Event::kGuestPtCacheOp);
  make_clean(pfn, kind);
  pool_.pool_add({pfn});  // no-op if still pooled
  pool.push_back(pfn);
  if (pool.size() > params_.high_watermark) {
    release(kind,
            std::min<std::size_t>(params_.release_batch, pool.size() - params_.high_watermark));
  }
}

void PageTableCache::release(TableKind kind, std::size_t count) {
  auto& pool = pools_[static_cast<std::size_t>(kind)];
  std::vector<Pfn> out(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(count));
  pool.erase(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(count));
  pool_.pool_remove(out);  // DMA back, one batch
  for (const Pfn p : out) {
    core_.pages().page(p).pt_level = guest::PtLevel::kNone;
    core_.pages().free(p);
  }
  core_.ledger().charge(Event::kGuestPtCacheRelease, out.size());
}

uint64_t PageTableCache::reclaim(uint64_t pages) {
  uint64_t freed = 0;
  for (std::size_t l = 0; l < guest::kTableKinds && freed < pages; ++l) {
    const std::size_t n = std::min<std::size_t>(pools_[l].size(), pages - freed);
    if (n == 0) continue;
    release(static_cast<TableKind>(l), n);
    freed += n;
  }
  return freed;
}

std::vector<std::pair<std::string, uint64_t>> PageTableCache::held() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (std::size_t k = 0; k < guest::kTableKinds; ++k) {
    out.emplace_back(std::string(guest::table_kind_name(static_cast<TableKind>(k))),
                     pools_[k].size());
  }
  return out;
}

}  // namespace pib::pibooster
