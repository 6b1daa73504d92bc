// SPDX-License-Identifier: MIT
// Xen's free machine frames as a LIFO stack stored as runs of consecutive frames: the frame on
// top is handed out first, a freed frame goes back on top. At boot the whole of memory is one
// run, so the stack costs one entry per run instead of one per free frame.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/types.hpp"

namespace pib::xen {

class FreeFrames {
 public:
  // Frames [first, end), handed out in ascending order.
  void push_range(Mfn first, Mfn end) {
    if (first < end) runs_.push_back(Run{first.value, end.value});
  }
  bool empty() const { return runs_.empty(); }
  Mfn top() const { return Mfn{runs_.back().lo}; }
  Mfn pop() {
    uint64_t n = 1;
    return pop_run(1, &n);
  }
  // Takes up to `max` frames off the top, which are consecutive: returns the first, sets *count.
  Mfn pop_run(uint64_t max, uint64_t* count) {
    Run& r = runs_.back();
    const Mfn first{r.lo};
    *count = std::min(max, r.hi - r.lo);
    r.lo += *count;
    if (r.lo == r.hi) runs_.pop_back();
    return first;
  }
  void push(Mfn mfn) {
    if (!runs_.empty() && runs_.back().lo == mfn.value + 1) {
      --runs_.back().lo;  // continues the top run downwards: same order of hand-out
    } else {
      runs_.push_back(Run{mfn.value, mfn.value + 1});
    }
  }
  std::size_t run_count() const { return runs_.size(); }

 private:
  struct Run {
    uint64_t lo;  // next frame handed out from this run
    uint64_t hi;
  };
  std::vector<Run> runs_;  // top of the stack at the back
};

}  // namespace pib::xen
