// SPDX-License-Identifier: MIT
// Cost draws: inside every row's range, spread as its distribution says, the same for the same
// seed, and a tornado bar moves exactly one row.
#include "cost/uncertainty.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace pib::cost {
namespace {

TEST(CostSampler, DrawsStayInTheirRangesAndRepeatForASeed) {
  const CostProfile p = find_profile("paper-era-server");
  CostSampler a(p, 7), b(p, 7), c(p, 8);
  bool differs = false;
  for (int i = 0; i < 200; ++i) {
    const UnitCosts x = a.next();
    EXPECT_EQ(x, b.next());
    differs = differs || x != c.next();
    for (const auto& e : sim::kEventTable) {
      if (e.cost != sim::Cost::kWork) continue;
      const UnitCost& u = p.unit(e.event);
      const double v = x[static_cast<std::size_t>(e.event)];
      EXPECT_GE(v, u.low) << e.name;
      EXPECT_LE(v, u.high) << e.name;
      if (u.dist == Dist::kFixed) {
        EXPECT_EQ(v, u.ns) << e.name;
      }
    }
  }
  EXPECT_TRUE(differs);
}

TEST(CostSampler, ALogUniformRowIsCentredOnItsGeometricMean) {
  const CostProfile p = find_profile("paper-era-server");
  CostSampler s(p, 1);
  std::vector<double> v;
  for (int i = 0; i < 4001; ++i)
    v.push_back(s.next()[static_cast<std::size_t>(sim::Event::kHwIotlbInvPage)]);
  std::sort(v.begin(), v.end());
  EXPECT_NEAR(v[2000], std::sqrt(300.0 * 3000.0), 60.0);  // 949 ns
  EXPECT_LT(v.front(), 330);
  EXPECT_GT(v.back(), 2700);
}

TEST(CostSampler, ATornadoBarMovesOneRowToAnEndOfItsRange) {
  const CostProfile p = find_profile("paper-era-server");
  const UnitCosts nominal = unit_costs(p);
  const UnitCosts hi = with_row_at(p, sim::Event::kHwIommuInvStall, true);
  for (std::size_t e = 0; e < nominal.size(); ++e) {
    if (e == static_cast<std::size_t>(sim::Event::kHwIommuInvStall)) {
      EXPECT_EQ(hi[e], 3000);
    } else {
      EXPECT_EQ(hi[e], nominal[e]);
    }
  }
  EXPECT_EQ(with_row_at(p, sim::Event::kHwIommuInvStall,
                        false)[static_cast<std::size_t>(sim::Event::kHwIommuInvStall)],
            300);
}

}  // namespace
}  // namespace pib::cost
