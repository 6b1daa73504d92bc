// SPDX-License-Identifier: MIT
// What every per-level page-table cache here does the same way, whatever a page costs to enter
// and leave it (PiBooster's writable pooled cache, the pinned cache): which freed tables wait for
// an RCU grace period before reuse, and how adaptive sizing turns a level's demand into a refill
// batch and a release.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>

#include "guest/kernel_core.hpp"
#include "guest/pt_pages.hpp"
#include "pibooster/guest/cache_sizing.hpp"
#include "sim/ledger.hpp"

namespace pib::pibooster {

// L1-L3 tables are what lockless walkers may still be reading after they were unlinked; a pgd
// is freed only once its mm is gone, and no walker can start from it any more.
inline bool freed_through_rcu(guest::TableKind kind) {
  return kind == guest::TableKind::kL1 || kind == guest::TableKind::kL2 ||
         kind == guest::TableKind::kL3;
}

// A freed table of `kind` becomes reusable through `accept`: at once, or — when the cache wants
// RCU-safe reuse and this kernel frees tables without waiting — from an RCU callback, counted in
// `waiting` meanwhile. The callback's work still counts in the level's free span.
template <typename Accept>
void reuse_after_grace_period(guest::KernelCore& core, bool rcu_reuse, guest::TableKind kind,
                              uint64_t& waiting, Accept accept) {
  if (!rcu_reuse || !freed_through_rcu(kind) || core.ops().tables_freed_after_grace_period()) {
    accept();
    return;
  }
  waiting++;
  core.ledger().charge(sim::Event::kGuestPtCacheRcuWait);
  const sim::Span span_kind = kind == guest::TableKind::kL1   ? sim::Span::kPtFreeL1
                              : kind == guest::TableKind::kL2 ? sim::Span::kPtFreeL2
                                                              : sim::Span::kPtFreeL3;
  core.call_rcu([&core, &waiting, span_kind, accept = std::move(accept)] {
    sim::SpanScope span(core.ledger(), span_kind, /*counts_instance=*/false);
    waiting--;
    accept();
  });
}

struct LevelLimits {
  uint64_t refill_batch = 0;   // fewest pages one refill takes
  uint64_t release_batch = 0;  // slack above the target before a release
  uint64_t capacity = 0;       // ready pages per level, at most
  uint64_t memory_cap = 0;     // ready pages in all levels, at most
};

// A level's adaptive refill: up to its target in one batch (the page being allocated included),
// at least a refill batch, within the level's capacity and the cap on all ready pages.
inline uint64_t adaptive_refill_size(const DemandTracker& demand, uint64_t waiting,
                                     uint64_t level_ready, uint64_t all_ready,
                                     const LevelLimits& limits) {
  const uint64_t owned = demand.in_use() + waiting;  // in_use counts this allocation
  const uint64_t deficit = demand.target() >= owned ? demand.target() - owned + 1 : 1;
  uint64_t n = std::max<uint64_t>(limits.refill_batch, deficit);
  n = std::min<uint64_t>(n, limits.capacity - std::min<uint64_t>(limits.capacity, level_ready));
  n = std::min<uint64_t>(n, limits.memory_cap > all_ready ? limits.memory_cap - all_ready : 0);
  return std::max<uint64_t>(n, 1);
}

// How many ready pages an adaptive level gives back: down to its target once it holds a release
// batch more, or down to the cap when all levels together exceed it.
inline uint64_t adaptive_excess(const DemandTracker& demand, uint64_t level_ready,
                                uint64_t all_ready, const LevelLimits& limits) {
  const uint64_t keep = std::min<uint64_t>(demand.ready_target(), limits.capacity);
  uint64_t excess = level_ready > keep + limits.release_batch ? level_ready - keep : 0;
  if (all_ready > limits.memory_cap) excess = std::max(excess, all_ready - limits.memory_cap);
  return std::min<uint64_t>(excess, level_ready);
}

}  // namespace pib::pibooster
