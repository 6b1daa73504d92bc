// SPDX-License-Identifier: MIT
// The model against the real Xen 4.17 + Linux 6.1 counts: every traced figure within tolerance
// over the randomised layouts, except the four listed, which `pibooster fidelity` reports with
// the mechanism behind them.
#include <gtest/gtest.h>

#include <set>

#include "fidelity/fidelity.hpp"

namespace pib {
namespace {

TEST(Fidelity, MatchedFiguresStayMatchedAndFootprintsAgree) {
  const std::string dir =
      std::string(std::getenv("PIB_SOURCE_DIR")) + "/data/groundtruth/xen-4.17-linux-6.1";
  const auto results = fidelity::run(dir, 5);
  ASSERT_EQ(results.size(), 9u);  // 3 hypercall modes, 3 x 2 IOMMU groups (ASLR off, on)
  // Every figure except the four that time-dependent effects of the traced emulator decide
  // (docs/fidelity.md): continuations of preempted multicalls and switches to the tracer.
  const std::set<std::pair<std::string, std::string>> may_differ = {
      {"fork_exit", "multicall entries (direct)"},
      {"heap64", "multicall (direct)"},
      {"heap64", "multicall entries (direct)"},
      {"mmap_touch", "mmuext_op entries (direct)"},
  };
  std::size_t seen = 0;
  for (const auto& m : results) {
    if (m.footprint) {
      EXPECT_EQ(m.vmpte_pages_model, m.vmpte_pages_real) << m.mode;
    }
    for (const auto& f : m.figures) {
      ++seen;
      if (may_differ.count({m.mode, f.name}) != 0) {
        EXPECT_TRUE(f.within || f.traced_timing) << m.mode << " " << f.name;
        continue;
      }
      EXPECT_TRUE(f.within) << m.mode << " " << f.name << ": real " << f.real << ", model "
                            << f.model_min << "-" << f.model_max;
    }
  }
  EXPECT_EQ(seen, 44u + 60u);  // hypercall figures, VT-d figures
}

TEST(Fidelity, Tolerance) {
  EXPECT_TRUE(fidelity::within_tolerance(8, 9));
  EXPECT_FALSE(fidelity::within_tolerance(8, 9.5));
  EXPECT_TRUE(fidelity::within_tolerance(100, 105));
  EXPECT_FALSE(fidelity::within_tolerance(100, 106));
}

}  // namespace
}  // namespace pib
