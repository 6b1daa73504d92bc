// SPDX-License-Identifier: MIT
// The guest's buddy allocator: splitting, merging back, LIFO reuse, and refusing misuse.
#include "guest/page_alloc.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace pib::guest {
namespace {

struct PageAllocTest : ::testing::Test {
  sim::Ledger ledger;
  PageAllocator alloc{2048, ledger};
  PageAllocTest() { alloc.add_free_range(Pfn{0}, Pfn{2048}); }
};

TEST_F(PageAllocTest, FreeRangeMergesIntoMaximalBlocks) {
  EXPECT_EQ(alloc.free_pages(), 2048u);
  EXPECT_EQ(alloc.free_blocks(PageAllocator::kMaxOrder), 2u);  // 2 x 1024 pages
  for (unsigned o = 0; o < PageAllocator::kMaxOrder; ++o) EXPECT_EQ(alloc.free_blocks(o), 0u);
}

TEST_F(PageAllocTest, SplitsAndMergesBack) {
  const Pfn a = alloc.alloc(0);
  ASSERT_NE(a, kInvalidPfn);
  EXPECT_EQ(alloc.free_pages(), 2047u);
  for (unsigned o = 0; o < PageAllocator::kMaxOrder; ++o) EXPECT_EQ(alloc.free_blocks(o), 1u);
  const Pfn b = alloc.alloc(3);
  EXPECT_EQ(b.value % 8, 0u);
  alloc.free(a);
  alloc.free(b, 3);
  EXPECT_EQ(alloc.free_blocks(PageAllocator::kMaxOrder), 2u);
  EXPECT_EQ(alloc.free_pages(), 2048u);
}

TEST_F(PageAllocTest, TheLastFreedPageIsTheNextHandedOut) {
  const Pfn a = alloc.alloc(0);
  const Pfn b = alloc.alloc(0);
  alloc.free(a);
  EXPECT_EQ(alloc.alloc(0), a);
  alloc.free(b);
  EXPECT_EQ(alloc.alloc(0), b);
}

TEST_F(PageAllocTest, RefcountedPutFreesOnLastReference) {
  const Pfn a = alloc.alloc(0);
  alloc.get(a);
  alloc.put(a);
  EXPECT_EQ(alloc.free_pages(), 2047u);
  alloc.put(a);
  EXPECT_EQ(alloc.free_pages(), 2048u);
}

TEST_F(PageAllocTest, MisuseIsAModelBug) {
  const Pfn a = alloc.alloc(0);
  alloc.page(a).pinned = true;
  EXPECT_THROW(alloc.free(a), ModelBug);
  alloc.page(a).pinned = false;
  alloc.free(a);
  EXPECT_THROW(alloc.free(a), ModelBug);
}

TEST_F(PageAllocTest, ExhaustionReturnsInvalid) {
  for (int i = 0; i < 2; ++i) ASSERT_NE(alloc.alloc(PageAllocator::kMaxOrder), kInvalidPfn);
  EXPECT_EQ(alloc.alloc(0), kInvalidPfn);
}

}  // namespace
}  // namespace pib::guest
