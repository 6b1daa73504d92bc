// SPDX-License-Identifier: MIT
// A cache of page-table pages kept validated between uses, per level, as XenoLinux 2.4's
// per-CPU quicklists kept them: a cached table stays pinned, read-only and empty, so handing it
// out and taking it back costs Xen nothing. Only a miss pays the slow path (allocate, clear,
// construct a pgd's kernel half, make read-only, pin: validation and, without the pool, the
// IOMMU unmap and its invalidation); only a page leaving the cache is unpinned.
//
// What changes for the kernel (guest/xen): a kept table's hooks do nothing, the whole-tree pin
// and unpin leave it alone, every entry written into it is validated by Xen one by one
// (mmu_update), and the exit teardown clears it through Xen instead of with plain stores. With
// `pool` the cache's pages are in PiBooster's page-table pool, so even its misses do no IOMMU work.
#pragma once

#include <array>
#include <vector>

#include "guest/kernel_core.hpp"
#include "guest/pt_pages.hpp"
#include "guest/pt_pool_port.hpp"
#include "guest/table_pin_port.hpp"
#include "pibooster/guest/cache_rules.hpp"
#include "pibooster/guest/cache_sizing.hpp"

namespace pib::pibooster {

using guest::TableKind;

// Sized as PiBooster's cache is ([pibooster]): adaptively by default, by fixed watermarks when
// `adaptive` is off.
struct PinnedCacheParams {
  uint32_t refill_batch = 32;     // fewest pages one miss pins, in one multicall
  uint32_t high_watermark = 512;  // fixed sizing: ready pages kept per level
  uint32_t release_batch = 64;    // fixed: most pages one release takes; adaptive: the slack
  uint32_t capacity = 1024;       // ready pages per level, at most
  uint32_t memory_cap = 4096;     // ready pages in all levels, at most (adaptive)
  bool rcu_reuse = true;          // reuse a freed table only after an RCU grace period
  bool adaptive = true;
  SizingParams sizing{};
};

class PinnedTableCache final : public guest::PtPageSource {
 public:
  // `pin` and `pool` outlive the cache; pass a NoPtPool to leave DMA to Xen's type changes.
  PinnedTableCache(guest::KernelCore& core, PinnedCacheParams params, guest::TablePinPort& pin,
                   guest::PtPoolPort& pool);

  std::string_view name() const override { return "pinned-table-cache"; }
  Pfn alloc(TableKind kind, const guest::Mm& mm) override;
  void free(Pfn pfn, TableKind kind) override;
  bool constructed(TableKind kind) const override {
    (void)kind;
    return true;  // a pinned pgd cannot be constructed afterwards with plain stores
  }
  uint64_t reclaim(uint64_t pages, guest::ReclaimFrom who) override;
  std::vector<std::pair<std::string, uint64_t>> held() const override;
  std::size_t held(TableKind kind) const { return level(kind).ready.size(); }

 private:
  struct Level {
    explicit Level(SizingParams s) : demand(s) {}
    std::vector<Pfn> ready;  // LIFO of pinned, empty tables
    uint64_t waiting = 0;    // freed, in an RCU callback
    DemandTracker demand;
  };
  Level& level(TableKind kind) { return levels_[static_cast<std::size_t>(kind)]; }
  const Level& level(TableKind kind) const { return levels_[static_cast<std::size_t>(kind)]; }
  void refill(TableKind kind);
  uint64_t refill_size(TableKind kind) const;
  LevelLimits limits() const {
    return {params_.refill_batch, params_.release_batch, params_.capacity, params_.memory_cap};
  }
  void trim(TableKind kind);
  uint64_t ready_total() const;
  void accept(Pfn pfn, TableKind kind);
  void release(TableKind kind, std::vector<Pfn> pages);

  guest::KernelCore& core_;
  PinnedCacheParams params_;
  guest::TablePinPort& pin_;
  guest::PtPoolPort& pool_;
  std::array<Level, guest::kTableKinds> levels_;
  bool refilling_ = false;  // the shrinker leaves the cache alone meanwhile
};

}  // namespace pib::pibooster
