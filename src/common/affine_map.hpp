// SPDX-License-Identifier: MIT
// A map from frame numbers to frame numbers (e.g. Xen's M2P) that is mostly affine runs
// (key k0+i -> value v0+i), as a domain builder fills it, plus a few exceptions where the map was
// changed afterwards. Keys in no run and with no exception map to `missing`. Costs one entry per
// run and per exception instead of one per key.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <unordered_map>
#include <vector>

namespace pib {

class AffineMap {
 public:
  explicit AffineMap(uint64_t missing) : missing_(missing) {}

  uint64_t get(uint64_t key) const {
    if (!exceptions_.empty()) {
      const auto it = exceptions_.find(key);
      if (it != exceptions_.end()) return it->second;
    }
    return from_runs(key);
  }

  void set(uint64_t key, uint64_t value) { set_run(key, value, 1); }

  // Maps key+i -> value+i for i < count. Runs are only appended after the last one (keys in
  // ascending order, as the builder assigns them); any other change becomes exceptions.
  void set_run(uint64_t key, uint64_t value, uint64_t count) {
    if (count == 0) return;
    const uint64_t runs_end = runs_.empty() ? 0 : runs_.back().key + runs_.back().count;
    if (value != missing_ && key >= runs_end) {
      for (uint64_t i = 0; i < count && !exceptions_.empty(); ++i) exceptions_.erase(key + i);
      if (!runs_.empty() && key == runs_end && runs_.back().value + runs_.back().count == value) {
        runs_.back().count += count;
      } else {
        runs_.push_back(Run{key, value, count});
      }
      return;
    }
    for (uint64_t i = 0; i < count; ++i) {
      if (from_runs(key + i) == value + i) {
        exceptions_.erase(key + i);
      } else {
        exceptions_[key + i] = value + i;
      }
    }
  }

  std::size_t run_count() const { return runs_.size(); }
  std::size_t exception_count() const { return exceptions_.size(); }

 private:
  struct Run {
    uint64_t key;
    uint64_t value;
    uint64_t count;
  };

  uint64_t from_runs(uint64_t key) const {
    if (runs_.size() == 1) {  // the common case: the builder's one run
      const Run& r = runs_.front();
      return key - r.key < r.count ? r.value + (key - r.key) : missing_;
    }
    const auto after = std::upper_bound(runs_.begin(), runs_.end(), key,
                                        [](uint64_t k, const Run& r) { return k < r.key; });
    if (after == runs_.begin()) return missing_;
    const Run& r = *std::prev(after);
    return key - r.key < r.count ? r.value + (key - r.key) : missing_;
  }

  uint64_t missing_;
  std::vector<Run> runs_;  // ascending, disjoint keys
  std::unordered_map<uint64_t, uint64_t> exceptions_;
};

}  // namespace pib
