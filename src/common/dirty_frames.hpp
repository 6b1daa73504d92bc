// SPDX-License-Identifier: MIT
// A set of frame numbers, mostly the frames written since it was last cleared: machine memory
// and the frame table feed one when a consumer attaches it (the fuzz target's incremental auditor,
// which re-checks only what a step wrote); with none attached they pay one pointer test per write.
//
// A bitmap with a summary word per 64 words of it: marking is two stores and no branch that
// depends on what was marked before (the writers are coverage-instrumented model code, whose
// edges should say what the model did, not what the log held), and visiting the marks skips
// unmarked stretches 4,096 frames at a time.
#pragma once

#include <bit>
#include <cstdint>
#include <vector>

namespace pib {

class DirtyFrames {
 public:
  explicit DirtyFrames(uint64_t frames)
      : size_(frames), words_((frames + 63) / 64, 0), summary_((words_.size() + 63) / 64, 0) {}

  uint64_t size() const { return size_; }
  void mark(uint64_t frame) {
    if (frame >= size_) return;  // (the writers check the range first)
    words_[frame >> 6] |= uint64_t{1} << (frame & 63);
    summary_[frame >> 12] |= uint64_t{1} << ((frame >> 6) & 63);
  }
  void mark_range(uint64_t first, uint64_t count) {
    for (uint64_t f = first; f < first + count; ++f) mark(f);
  }
  bool marked(uint64_t frame) const {
    return frame < size_ && ((words_[frame >> 6] >> (frame & 63)) & 1) != 0;
  }
  bool empty() const {
    for (uint64_t s : summary_) {
      if (s != 0) return false;
    }
    return true;
  }
  // f(frame) for every marked frame, in ascending order.
  template <typename F>
  void for_each(F f) const {
    for (std::size_t s = 0; s < summary_.size(); ++s) {
      for (uint64_t sum = summary_[s]; sum != 0; sum &= sum - 1) {
        const std::size_t w = s * 64 + static_cast<std::size_t>(std::countr_zero(sum));
        for (uint64_t bits = words_[w]; bits != 0; bits &= bits - 1) {
          f(w * 64 + static_cast<uint64_t>(std::countr_zero(bits)));
        }
      }
    }
  }
  void clear() {
    for (std::size_t s = 0; s < summary_.size(); ++s) {
      for (uint64_t sum = summary_[s]; sum != 0; sum &= sum - 1) {
        words_[s * 64 + static_cast<std::size_t>(std::countr_zero(sum))] = 0;
      }
      summary_[s] = 0;
    }
  }

 private:
  uint64_t size_;
  std::vector<uint64_t> words_;
  std::vector<uint64_t> summary_;  // bit w % 64 of word w / 64: words_[w] has a mark
};

}  // namespace pib
