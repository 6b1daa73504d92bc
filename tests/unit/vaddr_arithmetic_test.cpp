// SPDX-License-Identifier: MIT
// Virtual-address arithmetic (common/types.hpp): offsets move an address, two addresses differ
// by a byte count, alignment rounds down, and unsigned wrap-around behaves as the page-table
// walkers' floor and ceiling rules expect (0 as "the top of the address space").
#include <gtest/gtest.h>

#include "common/types.hpp"

namespace pib {
namespace {

TEST(VaddrArithmetic, OffsetsMoveAnAddressBothWays) {
  const Vaddr va{0x7000};
  EXPECT_EQ((va + kPageSize).value, 0x8000u);
  EXPECT_EQ((va - kPageSize).value, 0x6000u);
  Vaddr walk = va;
  walk += 3 * kPageSize;
  EXPECT_EQ(walk.value, 0xa000u);
  walk -= kPageSize;
  EXPECT_EQ(walk.value, 0x9000u);
}

TEST(VaddrArithmetic, TwoAddressesDifferByAByteCount) {
  EXPECT_EQ(Vaddr{0x405000} - Vaddr{0x400000}, 0x5000u);
}

TEST(VaddrArithmetic, AlignDownRoundsToTheSpan) {
  const uint64_t pmd = uint64_t{1} << 21;
  EXPECT_EQ(align_down(Vaddr{0x7fff'ffe0'1234}, kPageSize).value, 0x7fff'ffe0'1000u);
  EXPECT_EQ(align_down(Vaddr{0x7fff'ffe0'1234}, pmd).value, 0x7fff'ffe0'0000u);
  EXPECT_EQ(align_down(Vaddr{0x200000}, pmd).value, 0x200000u);  // already aligned
}

TEST(VaddrArithmetic, WrapsAroundLikeUnsignedIntegers) {
  // The free_pgd_range rule "end - 1 > ceiling - 1" with ceiling 0 = no upper limit.
  const Vaddr top{0};
  EXPECT_EQ((top - 1).value, ~uint64_t{0});
  EXPECT_FALSE(Vaddr{0x400000} - 1 > top - 1);
  EXPECT_EQ((Vaddr{~uint64_t{0} - kPageSize + 1} + kPageSize).value, 0u);
}

}  // namespace
}  // namespace pib
