// SPDX-License-Identifier: MIT
// A list of frame numbers that mostly come in runs of consecutive values (v, v+1,
// v+2, ...), stored as those runs: the frames a domain builder hands out in ascending order, or
// a p2m filled pfn by pfn, cost one entry per run instead of one per frame.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <stdexcept>
#include <vector>

namespace pib {

template <typename V>  // a StrongU64 (Mfn, Pfn)
class RunList {
 public:
  struct Run {
    uint64_t first;  // value of the run's first element
    uint64_t count;
    uint64_t index;  // list index of the run's first element
  };

  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = V;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = V;

    const_iterator() = default;
    const_iterator(const std::vector<Run>* runs, std::size_t run) : runs_(runs), run_(run) {}
    V operator*() const { return V{(*runs_)[run_].first + offset_}; }
    const_iterator& operator++() {
      if (++offset_ == (*runs_)[run_].count) {
        ++run_;
        offset_ = 0;
      }
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++*this;
      return old;
    }
    bool operator==(const const_iterator& o) const {
      return run_ == o.run_ && offset_ == o.offset_;
    }

   private:
    const std::vector<Run>* runs_ = nullptr;
    std::size_t run_ = 0;
    uint64_t offset_ = 0;
  };

  void push_back(V v) { append_run(v, 1); }
  // Appends first, first+1, ..., first+count-1.
  void append_run(V first, uint64_t count) {
    if (count == 0) return;
    if (!runs_.empty() && runs_.back().first + runs_.back().count == first.value) {
      runs_.back().count += count;
    } else {
      runs_.push_back(Run{first.value, count, size_});
    }
    size_ += count;
  }

  // Removes one element (the list keeps its order); false if `v` is not in it. Linear in the
  // number of runs: for the rare removals (a frame given back), not for hot paths.
  bool erase(V v) {
    for (std::size_t r = 0; r < runs_.size(); ++r) {
      Run& run = runs_[r];
      if (v.value < run.first || v.value >= run.first + run.count) continue;
      const uint64_t offset = v.value - run.first;
      const Run tail{v.value + 1, run.count - offset - 1, run.index + offset};
      run.count = offset;
      std::size_t next = r + 1;
      if (tail.count != 0) runs_.insert(runs_.begin() + static_cast<std::ptrdiff_t>(next++), tail);
      if (runs_[r].count == 0) {
        runs_.erase(runs_.begin() + static_cast<std::ptrdiff_t>(r));
        --next;
      }
      for (std::size_t k = next; k < runs_.size(); ++k) --runs_[k].index;
      --size_;
      return true;
    }
    return false;
  }

  uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  V operator[](uint64_t i) const {
    if (runs_.size() == 1) return V{runs_.front().first + i};
    const auto after = std::upper_bound(runs_.begin(), runs_.end(), i,
                                        [](uint64_t k, const Run& r) { return k < r.index; });
    const Run& r = *std::prev(after);
    return V{r.first + (i - r.index)};
  }
  V at(uint64_t i) const {
    if (i >= size_) throw std::out_of_range("RunList::at");
    return (*this)[i];
  }
  V back() const { return V{runs_.back().first + runs_.back().count - 1}; }
  const std::vector<Run>& runs() const { return runs_; }

  const_iterator begin() const { return const_iterator(&runs_, 0); }
  const_iterator end() const { return const_iterator(&runs_, runs_.size()); }

 private:
  std::vector<Run> runs_;
  uint64_t size_ = 0;
};

}  // namespace pib
