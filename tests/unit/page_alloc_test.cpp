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

namespace pib::guest {
namespace {

// add_free_range frees by blocks: the lists must be those of freeing page by page, in order,
// also when blocks freed earlier border the range.
std::vector<uint64_t> drain(PageAllocator& a) {
  std::vector<uint64_t> order;
  for (Pfn p = a.alloc(0); p != kInvalidPfn; p = a.alloc(0)) order.push_back(p.value);
  return order;
}

TEST(PageAllocBoot, FreeingARangeByBlocksEqualsFreeingEachPage) {
  const std::vector<std::pair<uint64_t, uint64_t>> ranges = {{0, 2048}, {37, 2048},   {37, 1999},
                                                             {1, 3},    {1023, 1025}, {513, 4093}};
  for (const auto& [first, end] : ranges) {
    sim::Ledger l1, l2;
    PageAllocator by_blocks(4096, l1), by_pages(4096, l2);
    // Some pages freed before the range, bordering it.
    for (PageAllocator* a : {&by_blocks, &by_pages}) {
      if (first >= 2) a->free(Pfn{first - 1});
      if (end < 4096) a->free(Pfn{end});
    }
    by_blocks.add_free_range(Pfn{first}, Pfn{end});
    for (uint64_t p = first; p < end; ++p) by_pages.free(Pfn{p});
    EXPECT_EQ(l1.count(sim::Event::kGuestPageFree), l2.count(sim::Event::kGuestPageFree));
    for (unsigned o = 0; o <= PageAllocator::kMaxOrder; ++o) {
      EXPECT_EQ(by_blocks.free_blocks(o), by_pages.free_blocks(o)) << first << ".." << end;
    }
    EXPECT_EQ(drain(by_blocks), drain(by_pages)) << first << ".." << end;
  }
}

TEST(PageAllocBoot, ABigMemoryCostsDescriptorsOnlyWhereUsed) {
  sim::Ledger ledger;
  PageAllocator a(uint64_t{1} << 24, ledger);  // 64 GiB of pages
  a.add_free_range(Pfn{100}, Pfn{uint64_t{1} << 24});
  EXPECT_LE(a.dense_chunks(), 1u);  // the partial first chunk only
  for (int i = 0; i < 1000; ++i) ASSERT_NE(a.alloc(0), kInvalidPfn);
  // 1000 pages from the top 4 MiB block: a few chunks of 512 descriptors.
  EXPECT_LE(a.dense_chunks(), 4u);
}

}  // namespace
}  // namespace pib::guest
