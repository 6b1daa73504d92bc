// SPDX-License-Identifier: MIT
// Address-space layout randomisation: Linux's ranges, the sysctl levels, reproducible draws,
// and the layouts exec builds with them.
#include "guest/aslr.hpp"

#include <gtest/gtest.h>

#include <set>

#include "guest/mm_types.hpp"
#include "support/guest_fixture.hpp"

namespace pib {
namespace {

using guest::AddressSpaceRandomizer;
using guest::kTaskSize;

constexpr uint64_t kMmapGapRandomized = (8ULL << 20) + (1ULL << 20) + (((1ULL << 22) - 1) << 12);

TEST(Aslr, LevelZeroGivesTheFixedLayout) {
  AddressSpaceRandomizer r(0, 7);
  EXPECT_EQ(r.stack_top(), kTaskSize);
  EXPECT_EQ(r.mmap_base(), kTaskSize - (128ULL << 20));
  EXPECT_EQ(r.brk_start(0x4b0000), 0x4b0000u);
  EXPECT_EQ(r.pie_base(), 0x555555554000u);
  EXPECT_FALSE(r.vdso_hint(kTaskSize - 100, 8 * kPageSize).has_value());
}

TEST(Aslr, DrawsStayInLinuxRanges) {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    AddressSpaceRandomizer r(2, seed);
    const uint64_t mmap = r.mmap_base();
    const uint64_t stack = r.stack_top();
    const uint64_t brk = r.brk_start(0x4b0000);
    EXPECT_EQ(stack % kPageSize, 0u);
    EXPECT_LE(stack, kTaskSize);
    EXPECT_GE(stack, kTaskSize - (1ULL << 34));  // 22 bits of pages
    EXPECT_EQ(mmap % kPageSize, 0u);
    EXPECT_LE(mmap, kTaskSize - kMmapGapRandomized);
    EXPECT_GE(mmap, kTaskSize - kMmapGapRandomized - (1ULL << 40));  // 28 bits of pages
    EXPECT_LT(mmap, stack);  // the gap covers the whole stack range
    EXPECT_GE(brk, 0x4b0000u);
    EXPECT_LT(brk, 0x4b0000u + (32ULL << 20));
    const uint64_t start = stack - 3 * kPageSize + 8;
    const auto hint = r.vdso_hint(start, 8 * kPageSize);
    ASSERT_TRUE(hint.has_value());
    const uint64_t aligned = (start + kPageSize - 1) & ~(kPageSize - 1);
    EXPECT_GE(*hint, aligned);
    // Inside the 2 MiB region the stack pointer's block ends in.
    const uint64_t pmd_end =
        (aligned + 8 * kPageSize + guest::kPmdSize - 1) & ~(guest::kPmdSize - 1);
    EXPECT_LE(*hint + 8 * kPageSize, std::max(pmd_end, aligned + 8 * kPageSize));
  }
}

TEST(Aslr, LevelOneLeavesBrkAlone) {
  AddressSpaceRandomizer r(1, 3);
  EXPECT_NE(r.stack_top(), kTaskSize);
  EXPECT_EQ(r.brk_start(0x600000), 0x600000u);
}

TEST(Aslr, SameSeedSameDraws) {
  AddressSpaceRandomizer a(2, 42), b(2, 42), c(2, 43);
  EXPECT_EQ(a.mmap_base(), b.mmap_base());
  EXPECT_EQ(a.stack_top(), b.stack_top());
  EXPECT_NE(a.pie_base(), c.pie_base());
}

// The layout of the lmbench image after exec: stack, vDSO and libraries (dynamic image).
struct Layout {
  uint64_t stack_end = 0, vdso = 0, lowest_lib = ~uint64_t{0}, brk = 0;
};

Layout exec_layout(int level, uint64_t seed) {
  system::GuestSystemConfig cfg =
      test::guest_config(system::PvOpsKind::kXen, 1, 8192, xen::XenGeneration::kModern);
  cfg.randomize_va_space = level;
  cfg.seed = seed;
  test::GuestFixture fx(cfg);
  const auto img = guest::builtin_image("sh");
  const guest::Pid p = fx.k().spawn(img);
  Layout l;
  for (const auto& [start, v] : fx.k().mm(p).vmas) {
    if (v.kind == guest::VmaKind::kStack) l.stack_end = v.end;
    if (v.name == "[vdso]") l.vdso = v.start;
    if (v.kind == guest::VmaKind::kFile && v.start > 0x700000000000ULL && v.name != "[vdso]")
      l.lowest_lib = std::min(l.lowest_lib, v.start);
  }
  l.brk = fx.k().mm(p).brk_start;
  return l;
}

TEST(Aslr, ExecPlacesTheVdsoAboveTheStackAndLibrariesBelowTheMmapBase) {
  std::set<uint64_t> stacks;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    const Layout l = exec_layout(2, seed);
    stacks.insert(l.stack_end);
    EXPECT_LT(l.lowest_lib, l.stack_end - (1ULL << 34) + 1) << "libraries below the stack gap";
    // The vDSO sits above the stack (sharing its 2 MiB region) unless the hint was taken.
    if (l.vdso > l.stack_end) {
      EXPECT_LT(l.vdso - l.stack_end, guest::kPmdSize);
    } else {
      EXPECT_LT(l.vdso, l.lowest_lib + (1ULL << 40));
    }
  }
  EXPECT_GT(stacks.size(), 10u);
  const Layout fixed = exec_layout(0, 1);
  EXPECT_EQ(fixed.stack_end, kTaskSize);
  EXPECT_EQ(exec_layout(0, 2).lowest_lib, fixed.lowest_lib);
  EXPECT_EQ(exec_layout(2, 5).stack_end, exec_layout(2, 5).stack_end);
}

}  // namespace
}  // namespace pib
