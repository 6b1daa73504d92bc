// SPDX-License-Identifier: MIT
// The sparse containers behind per-frame state: they must read exactly like the dense vectors
// they replace, and cost memory only where entries differ from their neighbours.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

#include "common/affine_map.hpp"
#include "common/chunked_table.hpp"
#include "common/run_list.hpp"
#include "common/types.hpp"
#include "xen/free_frames.hpp"

namespace pib {
namespace {

TEST(ChunkedTable, ReadsLikeAVectorAndMaterialisesOnlyWrittenChunks) {
  ChunkedTable<uint32_t, 4> t(100, 7);  // chunks of 16
  EXPECT_EQ(t.get(99), 7u);
  EXPECT_EQ(t.dense_chunks(), 0u);
  t.mut(17) = 3;
  EXPECT_EQ(t.dense_chunks(), 1u);
  EXPECT_EQ(t.get(17), 3u);
  EXPECT_EQ(t.get(16), 7u);
  EXPECT_EQ(t.get(32), 7u);
  t.fill_range(10, 70, 5);  // whole chunks 1..3 become fills; 10..15 and 64..69 written
  EXPECT_EQ(t.get(9), 7u);
  EXPECT_EQ(t.get(10), 5u);
  EXPECT_EQ(t.get(17), 5u);
  EXPECT_EQ(t.get(69), 5u);
  EXPECT_EQ(t.get(70), 7u);
  EXPECT_EQ(t.dense_chunks(), 2u);  // chunks 0 and 4
  EXPECT_TRUE(t.all_of(10, 70, [](uint32_t v) { return v == 5; }));
  EXPECT_FALSE(t.all_of(9, 70, [](uint32_t v) { return v == 5; }));
}

TEST(ChunkedTable, CompactFoldsChunksThatBecameUniform) {
  ChunkedTable<uint32_t, 4> t(64, 0);
  for (uint64_t i = 16; i < 32; ++i) t.mut(i) = 1;  // chunk 1: uniform again
  t.mut(40) = 1;                                    // chunk 2: mixed
  EXPECT_EQ(t.dense_chunks(), 2u);
  t.compact();
  EXPECT_EQ(t.dense_chunks(), 1u);
  EXPECT_EQ(t.get(20), 1u);
  EXPECT_EQ(t.get(40), 1u);
  EXPECT_EQ(t.get(41), 0u);
  EXPECT_EQ(t.chunks_written_since_compact(), 0u);
  t.mut(40) = 0;  // chunk 2 uniform again, and a candidate since it was written
  t.compact();
  EXPECT_EQ(t.dense_chunks(), 0u);
}

// A copy owns its chunks; reset() refills every entry and keeps the materialised storage, and
// compaction still works after it.
TEST(ChunkedTable, CopiesAreIndependentAndResetKeepsStorage) {
  ChunkedTable<uint32_t, 4> t(64, 0);
  t.mut(3) = 1;
  t.mut(40) = 2;
  ChunkedTable<uint32_t, 4> copy(t);
  copy.mut(3) = 9;
  EXPECT_EQ(t.get(3), 1u);
  EXPECT_EQ(copy.get(40), 2u);
  EXPECT_EQ(copy.dense_chunks(), 2u);
  t.reset(5);
  for (uint64_t i = 0; i < 64; ++i) ASSERT_EQ(t.get(i), 5u) << i;
  EXPECT_EQ(t.dense_chunks(), 2u) << "storage kept";
  EXPECT_EQ(t.chunks_written_since_compact(), 0u);
  t.mut(41) = 6;
  EXPECT_EQ(t.chunks_written_since_compact(), 1u);
  t.mut(41) = 5;
  t.compact();
  EXPECT_EQ(t.dense_chunks(), 1u) << "the rewritten chunk folds; the untouched one stays";
  EXPECT_EQ(copy.get(3), 9u);
}

TEST(ChunkedTable, ForEachVisitsARangeAsGetReadsIt) {
  ChunkedTable<uint32_t, 4> t(100, 7);
  t.mut(20) = 1;
  t.mut(35) = 2;
  std::vector<uint64_t> seen;
  uint64_t sum = 0;
  t.for_each(14, 37, [&](uint64_t i, uint32_t v) {
    seen.push_back(i);
    sum += v;
    EXPECT_EQ(v, t.get(i)) << i;
  });
  ASSERT_EQ(seen.size(), 23u);
  EXPECT_EQ(seen.front(), 14u);
  EXPECT_EQ(seen.back(), 36u);
  EXPECT_EQ(sum, 21u * 7 + 1 + 2);
}

TEST(RunList, EraseSplitsARunAndKeepsTheOrderAndTheIndices) {
  RunList<Mfn> l;
  l.append_run(Mfn{10}, 5);  // 10..14
  l.push_back(Mfn{3});
  EXPECT_TRUE(l.erase(Mfn{12}));
  EXPECT_TRUE(l.erase(Mfn{10}));
  EXPECT_TRUE(l.erase(Mfn{3}));
  EXPECT_FALSE(l.erase(Mfn{12})) << "already gone";
  EXPECT_FALSE(l.erase(Mfn{99}));
  const std::vector<uint64_t> want = {11, 13, 14};
  ASSERT_EQ(l.size(), want.size());
  std::vector<uint64_t> seen;
  for (const Mfn m : l) seen.push_back(m.value);
  EXPECT_EQ(seen, want);
  for (uint64_t i = 0; i < want.size(); ++i) EXPECT_EQ(l[i].value, want[i]);
  l.push_back(Mfn{15});  // continues the last run again
  EXPECT_EQ(l.runs().size(), 2u);
}

TEST(RunList, StoresConsecutiveValuesAsRuns) {
  RunList<Mfn> l;
  l.append_run(Mfn{10}, 5);  // 10..14
  l.push_back(Mfn{15});      // continues the run
  l.push_back(Mfn{3});
  l.append_run(Mfn{100}, 2);
  EXPECT_EQ(l.runs().size(), 3u);
  const std::vector<uint64_t> want = {10, 11, 12, 13, 14, 15, 3, 100, 101};
  ASSERT_EQ(l.size(), want.size());
  std::vector<uint64_t> seen;
  for (const Mfn m : l) seen.push_back(m.value);
  EXPECT_EQ(seen, want);
  for (uint64_t i = 0; i < want.size(); ++i) EXPECT_EQ(l[i].value, want[i]);
  EXPECT_EQ(l.back(), Mfn{101});
  EXPECT_THROW(l.at(want.size()), std::out_of_range);
}

TEST(AffineMap, MatchesADenseMapUnderRandomUpdates) {
  constexpr uint64_t kMissing = ~uint64_t{0};
  AffineMap m(kMissing);
  std::unordered_map<uint64_t, uint64_t> dense;
  m.set_run(2, 0, 1000);  // what the builder does
  for (uint64_t i = 0; i < 1000; ++i) dense[2 + i] = i;
  m.set_run(1500, 1000, 10);
  for (uint64_t i = 0; i < 10; ++i) dense[1500 + i] = 1000 + i;
  std::mt19937_64 rng(7);
  for (int step = 0; step < 5000; ++step) {
    const uint64_t key = rng() % 1510;  // inside or between the runs
    const uint64_t value = rng() % 3 == 0 ? kMissing : rng() % 5000;
    m.set(key, value);
    dense[key] = value;
  }
  for (uint64_t key = 0; key < 2100; ++key) {
    const auto it = dense.find(key);
    EXPECT_EQ(m.get(key), it == dense.end() ? kMissing : it->second) << key;
  }
  EXPECT_EQ(m.run_count(), 2u);  // updates inside or between runs become exceptions
}

TEST(FreeFrames, HandsOutInTheOrderOfTheVectorItReplaces) {
  xen::FreeFrames runs;
  runs.push_range(Mfn{2}, Mfn{1000});
  std::vector<Mfn> stack;  // the old representation: top at the back
  for (uint64_t f = 1000; f-- > 2;) stack.push_back(Mfn{f});
  std::mt19937_64 rng(11);
  std::vector<Mfn> taken;
  for (int step = 0; step < 4000; ++step) {
    if (!taken.empty() && rng() % 2 == 0) {
      const std::size_t i = rng() % taken.size();
      const Mfn m = taken[i];
      taken.erase(taken.begin() + static_cast<std::ptrdiff_t>(i));
      runs.push(m);
      stack.push_back(m);
    } else if (!stack.empty()) {
      ASSERT_FALSE(runs.empty());
      const Mfn want = stack.back();
      stack.pop_back();
      ASSERT_EQ(runs.pop(), want);
      taken.push_back(want);
    }
  }
  while (!stack.empty()) {
    ASSERT_EQ(runs.pop(), stack.back());
    stack.pop_back();
  }
  EXPECT_TRUE(runs.empty());
}

}  // namespace
}  // namespace pib
