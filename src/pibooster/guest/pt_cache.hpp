// SPDX-License-Identifier: MIT
// The PiBooster cache: per-level dedicated buffers of ready page-table pages (L1, L2, L3,
// kernel pgd, user pgd) that serve every page-table allocation and free of the guest — a
// page-table page source (guest/pt_pages.hpp).
//
// A cached page is *ready*: it is clean (a freed table is empty once its span is unmapped; the
// cache checks, and clears what is not), a pgd keeps its kernel half and a user pgd its
// vsyscall slot, so a hit skips the page allocator, the zeroing and the pgd constructor; and,
// with the hypervisor's pool interface (PtPoolPort), it stays revoked from DMA for as long as it
// is cached, so its type changes between writable and page table cost no IOMMU work and no
// IOTLB flush. Pages enter and leave the pool in batches (one IOTLB invalidation per batch).
// Without the pool (guest::NoPtPool) it is the cache-only ablation.
//
// What keeps it sound and a good citizen (each a [pibooster] knob, on by default):
// - rcu_reuse: a freed L1-L3 table is handed out again only after an RCU grace period, so a
//   lockless walker still inside it cannot follow a stale entry into another process's table.
//   A kernel that frees tables through RCU already (Xen PV Linux 6) delivers them late; on one
//   that does not (the ≈4.12 generation) the cache waits for a grace period itself.
// - shrinker: kswapd reclaims ready pages below the page allocator's low watermark, and a refill
//   that finds the allocator empty reclaims from the other levels; pages waiting for a grace
//   period are not reclaimable.
// - adaptive: each level owns as many pages as a decaying peak of its demand says
//   (cache_sizing.hpp), grown by one refill and shrunk by one release, each a single batch,
//   within `capacity` per level and `memory_cap` in all. Off: the fixed low/high watermarks.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "guest/kernel_core.hpp"
#include "guest/pt_pages.hpp"
#include "guest/pt_pool_port.hpp"
#include "pibooster/guest/cache_rules.hpp"
#include "pibooster/guest/cache_sizing.hpp"

namespace pib::pibooster {

using guest::TableKind;

// The [pibooster] knobs of a scenario.
struct PtCacheParams {
  uint32_t capacity = 1024;       // pages per level, at most
  uint32_t low_watermark = 0;     // fixed sizing: refill when a level falls to this
  uint32_t high_watermark = 512;  // fixed sizing: release down to this above it
  uint32_t refill_batch = 32;     // fewest pages one refill takes
  uint32_t release_batch = 64;    // slack above the target before a release (adaptive)
  bool rcu_reuse = true;
  bool shrinker = true;
  bool adaptive = true;
  uint32_t memory_cap = 4096;  // ready pages in all levels, at most (adaptive)
  SizingParams sizing{};
};

class PageTableCache final : public guest::PtPageSource {
 public:
  // `pool` outlives the cache.
  PageTableCache(guest::KernelCore& core, PtCacheParams params, guest::PtPoolPort& pool);

  std::string_view name() const override { return "pibooster-cache"; }
  // A ready page for a table of `kind`: clean (template contents for the pgd kinds).
  Pfn alloc(TableKind kind, const guest::Mm& mm) override;
  // A table page the kernel no longer uses (already released by the pv hooks).
  void free(Pfn pfn, TableKind kind) override;
  bool constructed(TableKind kind) const override {
    (void)kind;
    return true;
  }
  uint64_t reclaim(uint64_t pages, guest::ReclaimFrom who) override;
  std::vector<std::pair<std::string, uint64_t>> held() const override;

  std::size_t held(TableKind kind) const { return level(kind).ready.size(); }
  // Pages of `kind` freed but waiting for a grace period before they are ready again.
  uint64_t waiting(TableKind kind) const { return level(kind).waiting; }
  uint64_t target(TableKind kind) const { return level(kind).demand.target(); }
  // Pages the cache owns in all levels (tables in use, waiting for a grace period, ready), the
  // most it ever owned, and the most it ever had to own: tables in use plus waiting at the
  // busiest moment — what a pool with perfect foresight would hold, taken once and never given
  // back.
  uint64_t owned() const;
  uint64_t peak_owned() const { return peak_owned_; }
  uint64_t peak_demand() const { return peak_demand_; }
  const PtCacheParams& params() const { return params_; }

 private:
  struct Level {
    explicit Level(SizingParams s) : demand(s) {}
    std::vector<Pfn> ready;  // LIFO
    uint64_t waiting = 0;    // freed, in an RCU callback
    DemandTracker demand;
  };
  Level& level(TableKind kind) { return levels_[static_cast<std::size_t>(kind)]; }
  const Level& level(TableKind kind) const { return levels_[static_cast<std::size_t>(kind)]; }

  // A freed table becomes ready: cleaned, kept in the pool, then the level is trimmed.
  void accept(Pfn pfn, TableKind kind);
  void refill(TableKind kind);
  uint64_t refill_size(TableKind kind) const;
  LevelLimits limits() const {
    return {params_.refill_batch, params_.release_batch, params_.capacity, params_.memory_cap};
  }
  void trim(TableKind kind);
  void release(TableKind kind, std::size_t count);
  uint64_t ready_total() const;
  void make_template(Pfn pfn, TableKind kind);
  void make_clean(Pfn pfn, TableKind kind);

  guest::KernelCore& core_;
  PtCacheParams params_;
  guest::PtPoolPort& pool_;
  std::array<Level, guest::kTableKinds> levels_;
  std::optional<TableKind> refilling_;  // the shrinker leaves this level alone meanwhile
  uint64_t peak_owned_ = 0;
  uint64_t peak_demand_ = 0;
};

}  // namespace pib::pibooster
