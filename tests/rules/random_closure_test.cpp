// SPDX-License-Identifier: MIT
// Reference-count closure under many operation orders: a seeded random mix of builds, pins,
// links, unlinks, trapped writes and unpins — refused ones included — must leave the auditor
// clean after every step, and tearing everything down must return every frame's counts to where
// they started.
#include <random>

#include "support/pv_fixture.hpp"

namespace pib::test {
namespace {

using namespace hw::pte_bits;

TEST(RefCountClosure, RandomOperationSequencesAlwaysCloseAndStayAudited) {
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    PvFixture fx(
        {.generation = seed % 2 ? xen::XenGeneration::kPaperEra : xen::XenGeneration::kModern});
    std::mt19937 rng(seed);
    std::vector<Pfn> frames;
    for (int i = 0; i < 12; ++i) frames.push_back(fx.alloc());
    std::vector<xen::PageInfo> start;
    for (Pfn f : frames) start.push_back(fx.page(f));
    auto pick = [&] { return frames[rng() % frames.size()]; };
    for (int step = 0; step < 300; ++step) {
      const Pfn a = pick(), b = pick();
      const unsigned level = 1 + static_cast<unsigned>(rng() % 3);
      switch (rng() % 7) {
        case 0:
          fx.remap(a, rng() % 2);
          break;
        case 1:
          fx.pin(level, a);
          break;
        case 2:
          fx.unpin(a);
          break;
        case 3:
          fx.update(a, rng() % 4, fx.pte(b, (rng() % 2 ? kDataRw : kDataRo) | kUser));
          break;
        case 4:
          fx.update(a, rng() % 4, 0);
          break;
        case 5:
          fx.store(a, rng() % 4, rng() % 2 ? 0 : fx.pte(b, kDataRo | kUser));
          break;
        case 6:
          fx.update(a, 4 + rng() % 2, fx.pte(b, kPresent | kUser | kAccessed));
          break;
      }
      const auto problems = fx.audit();
      ASSERT_TRUE(problems.empty())
          << "seed " << seed << " step " << step << ": " << ::testing::PrintToString(problems);
    }
    // The walk must have exercised the machinery, not just collected refusals.
    EXPECT_GE(fx.count(sim::Event::kXenPin), 3u) << "seed " << seed;
    EXPECT_GT(fx.count(sim::Event::kXenPtwrEmulated) + fx.count(sim::Event::kXenModEntrySlow), 20u);
    // Tear down: unpin everything (repeatedly, parents before children settle), then make every
    // frame writable again and clear it.
    for (int round = 0; round < 4; ++round) {
      for (Pfn f : frames) fx.unpin(f);
    }
    for (int round = 0; round < 4; ++round) {
      for (Pfn f : frames) {
        if (fx.page(f).type_count == 0 || fx.page(f).type == xen::PageType::kWritable) {
          fx.remap(f, true);
        }
      }
      for (Pfn f : frames) {
        for (uint64_t i = 0; i < 6; ++i) fx.store(f, i, 0);
      }
    }
    for (std::size_t i = 0; i < frames.size(); ++i) {
      EXPECT_EQ(fx.page(frames[i]).count, start[i].count) << "seed " << seed << " frame " << i;
      EXPECT_EQ(fx.page(frames[i]).type_count, start[i].type_count)
          << "seed " << seed << " frame " << i;
      EXPECT_FALSE(fx.page(frames[i]).pinned);
    }
    EXPECT_AUDIT_CLEAN(fx);
  }
}

}  // namespace
}  // namespace pib::test
