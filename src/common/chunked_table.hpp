// SPDX-License-Identifier: MIT
// A fixed-size table of T indexed 0..size-1 whose host memory grows with the entries actually
// used, not with its size: entries live in chunks of 2^kShift, and a chunk whose entries all hold
// one value is stored as that value alone (its fill). A chunk becomes an array ("materialised")
// on the first mutable access to one of its entries; compact() folds materialised chunks whose
// entries have become equal again back into a fill.
//
// Why: per-frame metadata of a 64-GiB guest is millions of entries, nearly all in one default
// state (free, or owned and mapped once by the direct map). Dense vectors made the model's host
// memory scale with guest size instead of with the frames a run touches.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

namespace pib {

template <typename T, unsigned kShift = 9>
class ChunkedTable {
 public:
  static constexpr uint64_t kChunk = uint64_t{1} << kShift;

  ChunkedTable(uint64_t size, const T& fill) : size_(size), chunks_((size + kChunk - 1) >> kShift) {
    for (Chunk& c : chunks_) c.fill = fill;
  }

  // A copy owns its own materialised chunks (the fuzzer restores whole hypervisors from one).
  ChunkedTable(const ChunkedTable& other) : size_(other.size_) { *this = other; }
  // Keeps the chunks this table has materialised where `other` has them too.
  ChunkedTable& operator=(const ChunkedTable& other) {
    if (this == &other) return *this;
    size_ = other.size_;
    chunks_.resize(other.chunks_.size());
    for (std::size_t i = 0; i < chunks_.size(); ++i) {
      const Chunk& from = other.chunks_[i];
      Chunk& to = chunks_[i];
      to.fill = from.fill;
      to.dirty = from.dirty;
      if (!from.dense) {
        to.dense.reset();
      } else if (to.dense) {
        *to.dense = *from.dense;
      } else {
        to.dense = std::make_unique<Entries>(*from.dense);
      }
    }
    dirty_ = other.dirty_;
    dense_chunks_ = other.dense_chunks_;
    return *this;
  }
  ChunkedTable(ChunkedTable&&) noexcept = default;
  ChunkedTable& operator=(ChunkedTable&&) noexcept = default;
  ~ChunkedTable() = default;

  uint64_t size() const { return size_; }

  const T& get(uint64_t i) const {
    const Chunk& c = chunks_[i >> kShift];
    return c.dense ? (*c.dense)[i & (kChunk - 1)] : c.fill;
  }

  // A reference that stays valid until the next compact() or fill_range() of its chunk.
  T& mut(uint64_t i) {
    Chunk& c = chunks_[i >> kShift];
    if (!c.dense || !c.dirty) [[unlikely]] {
      first_write(c, i >> kShift);
    }
    return (*c.dense)[i & (kChunk - 1)];
  }

  // Sets entries [first, end) to `value`; whole chunks become fills without being materialised.
  void fill_range(uint64_t first, uint64_t end, const T& value) {
    uint64_t i = first;
    while (i < end) {
      const uint64_t chunk_end = ((i >> kShift) + 1) << kShift;
      if ((i & (kChunk - 1)) == 0 && chunk_end <= end) {
        Chunk& c = chunks_[i >> kShift];
        if (c.dense) {
          c.dense.reset();
          --dense_chunks_;
        }
        c.fill = value;
        i = chunk_end;
      } else {
        mut(i) = value;
        ++i;
      }
    }
  }

  // Calls f(i, entry) for every i of [first, end), looking each chunk up once.
  template <typename F>
  void for_each(uint64_t first, uint64_t end, F f) const {
    uint64_t i = first;
    while (i < end) {
      const Chunk& c = chunks_[i >> kShift];
      const uint64_t chunk_end = std::min(end, ((i >> kShift) + 1) << kShift);
      if (c.dense) {
        const Entries& e = *c.dense;
        for (; i < chunk_end; ++i) f(i, e[i & (kChunk - 1)]);
      } else {
        for (; i < chunk_end; ++i) f(i, c.fill);
      }
    }
  }

  // Whether pred holds for every entry of [first, end); a fill is tested once for its chunk.
  template <typename Pred>
  bool all_of(uint64_t first, uint64_t end, Pred pred) const {
    uint64_t i = first;
    while (i < end) {
      const Chunk& c = chunks_[i >> kShift];
      const uint64_t chunk_end = std::min(end, ((i >> kShift) + 1) << kShift);
      if (!c.dense) {
        if (!pred(c.fill)) return false;
        i = chunk_end;
        continue;
      }
      for (; i < chunk_end; ++i) {
        if (!pred((*c.dense)[i & (kChunk - 1)])) return false;
      }
    }
    return true;
  }

  // Sets every entry to `value` again, keeping the materialised chunks' storage (a table reused
  // for one pass after another allocates nothing once its chunks exist).
  void reset(const T& value) {
    for (Chunk& c : chunks_) {
      if (c.dense) c.dense->fill(value);
      c.fill = value;
      c.dirty = false;
    }
    dirty_.clear();
  }

  // Folds every chunk written since the last call whose entries are all equal into a fill.
  // Invalidates references from mut() into the folded chunks: call only where none is held.
  void compact() {
    for (const uint32_t idx : dirty_) {
      Chunk& c = chunks_[idx];
      c.dirty = false;
      if (!c.dense) continue;
      const Entries& e = *c.dense;
      bool uniform = true;
      for (uint64_t k = 1; k < kChunk && uniform; ++k) uniform = e[k] == e[0];
      if (!uniform) continue;
      c.fill = e[0];
      c.dense.reset();
      --dense_chunks_;
    }
    dirty_.clear();
  }
  uint64_t chunks_written_since_compact() const { return dirty_.size(); }

  uint64_t dense_chunks() const { return dense_chunks_; }
  // Host bytes held by the table (directory plus materialised chunks), for memory accounting.
  uint64_t host_bytes() const {
    return chunks_.capacity() * sizeof(Chunk) + dense_chunks_ * sizeof(Entries) +
           dirty_.capacity() * sizeof(uint32_t);
  }

 private:
  using Entries = std::array<T, kChunk>;
  struct Chunk {
    std::unique_ptr<Entries> dense;
    T fill{};
    bool dirty = false;
  };

  // Kept out of line so that mut()'s common path (a materialised chunk) inlines.
  [[gnu::noinline]] void first_write(Chunk& c, uint64_t idx) {
    if (!c.dense) {
      c.dense = std::make_unique<Entries>();
      c.dense->fill(c.fill);
      ++dense_chunks_;
    }
    if (!c.dirty) {  // a compaction candidate again
      c.dirty = true;
      dirty_.push_back(static_cast<uint32_t>(idx));
    }
  }

  uint64_t size_;
  std::vector<Chunk> chunks_;
  std::vector<uint32_t> dirty_;  // chunks written since the last compact()
  uint64_t dense_chunks_ = 0;
};

}  // namespace pib
