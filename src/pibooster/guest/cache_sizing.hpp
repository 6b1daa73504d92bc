// SPDX-License-Identifier: MIT
// Adaptive sizing of one level of a page-table page cache: how many pages the level should own
// (tables in use plus ready pages), following demand.
//
// The target is a decaying peak: it rises at once to the most tables of the level in use at any
// moment, and each epoch (a fixed number of the level's cache operations) it falls to the larger
// of that epoch's peak and a fraction of the old target. A burst of processes therefore finds the
// pages of the last burst still ready if it comes back within a few epochs, and a long lull gives
// them back gradually. Pure arithmetic: the cache applies it (pt_cache.cpp).
#pragma once

#include <algorithm>
#include <cstdint>

namespace pib::pibooster {

struct SizingParams {
  uint32_t epoch_ops = 4096;  // cache operations of the level per epoch
  uint32_t keep_pct = 75;     // per epoch, the target keeps at least this share of itself
};

class DemandTracker {
 public:
  explicit DemandTracker(SizingParams params) : params_(params) {}

  // One table handed out / given back by the cache. Returns true when the target changed.
  bool on_alloc() {
    ++in_use_;
    peak_ = std::max(peak_, in_use_);
    const bool grew = peak_ > target_;
    target_ = std::max(target_, peak_);
    return tick() || grew;
  }
  bool on_free() {
    if (in_use_ > 0) --in_use_;
    return tick();
  }
  // Memory pressure took pages away: the target drops to what the level still owns.
  void clamp_target(uint64_t owned) { target_ = std::min(target_, std::max(owned, in_use_)); }

  uint64_t in_use() const { return in_use_; }
  uint64_t target() const { return target_; }
  // How many ready pages the level should keep now.
  uint64_t ready_target() const { return target_ > in_use_ ? target_ - in_use_ : 0; }

 private:
  bool tick() {
    if (++ops_ < params_.epoch_ops) return false;
    ops_ = 0;
    const uint64_t kept = target_ * params_.keep_pct / 100;
    const uint64_t next = std::max(peak_, kept);
    peak_ = in_use_;
    if (next == target_) return false;
    target_ = next;
    return true;
  }

  SizingParams params_;
  uint64_t in_use_ = 0;
  uint64_t peak_ = 0;    // most in use during this epoch
  uint64_t target_ = 0;  // pages the level should own
  uint32_t ops_ = 0;
};

}  // namespace pib::pibooster
