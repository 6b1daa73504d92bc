// SPDX-License-Identifier: MIT
// Cost profiles: the built-ins are complete and sourced; malformed files are refused with the
// file, line and valid keys named; overrides are recorded; the resolved dump loads again.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "cost/cost_profile.hpp"

namespace pib::cost {
namespace {

std::string error_of(const std::string& text) {
  try {
    CostProfile::parse(text, "test.toml");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

std::string complete_costs() {
  return builtin_profiles().front().text;
}

TEST(CostProfile, BuiltinsParseAndEveryWorkEventHasASourcedCost) {
  ASSERT_GE(builtin_profiles().size(), 2u);
  for (const auto& b : builtin_profiles()) {
    const CostProfile p = CostProfile::parse(b.text, b.name);
    for (const auto& e : sim::kEventTable) {
      if (e.cost != sim::Cost::kWork) continue;
      EXPECT_FALSE(p.unit(e.event).source.empty()) << b.name << " " << e.name;
      EXPECT_FALSE(p.unit(e.event).uncertainty.empty()) << b.name << " " << e.name;
      const UnitCost& u = p.unit(e.event);
      EXPECT_LE(u.low, u.ns) << b.name << " " << e.name;
      EXPECT_GE(u.high, u.ns) << b.name << " " << e.name;
    }
  }
}

TEST(CostProfile, MissingWorkEventIsNamed) {
  std::string text = complete_costs();
  const auto at = text.find("\"xen.ptwr.emulated\"");
  text.erase(at, text.find('\n', at) - at);
  EXPECT_NE(error_of(text).find("no cost for xen.ptwr.emulated"), std::string::npos);
}

TEST(CostProfile, UnknownKeyNamesTheLineAndTheValidKeys) {
  const std::string text = complete_costs() +
                           "\"xen.frobnications\" = { ns = 1, mark = \"E\", "
                           "uncertainty = \"x2\", source = \"s\" }\n";
  const std::string e = error_of(text);
  EXPECT_NE(e.find("test.toml:"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown cost key 'xen.frobnications'"), std::string::npos) << e;
  EXPECT_NE(e.find("xen.entries"), std::string::npos) << e;  // lists the valid keys
}

TEST(CostProfile, TalliesTakeNoCost) {
  const std::string text = complete_costs() +
                           "\"xen.pin\" = { ns = 1, mark = \"E\", "
                           "uncertainty = \"x2\", source = \"s\" }\n";
  EXPECT_NE(error_of(text).find("'xen.pin' is a tally"), std::string::npos);
}

TEST(CostProfile, EveryValueNeedsASourceAndAValidMark) {
  std::string text = complete_costs();
  const auto at = text.find(", source = ", text.find("\"guest.fork\""));
  std::string no_source = text;
  no_source.erase(at, no_source.find(" }", at) - at);
  EXPECT_NE(error_of(no_source).find("guest.fork has no source"), std::string::npos);
  std::string bad_mark = text;
  const auto m = bad_mark.find("mark = \"E\"", bad_mark.find("\"guest.fork\""));
  bad_mark.replace(m, 10, "mark = \"X\"");
  EXPECT_NE(error_of(bad_mark).find("mark must be V, R, E or M"), std::string::npos);
}

TEST(CostProfile, EveryRangeHoldsItsValueAndNamesADistribution) {
  const std::string text = complete_costs();
  const auto row = text.find("\"guest.fork\"");
  std::string outside = text;
  const auto low = outside.find("low = ", row);
  outside.replace(low, outside.find(',', low) - low, "low = 20000");
  EXPECT_NE(error_of(outside).find("guest.fork: the range 20000..30000 does not hold ns = 15000"),
            std::string::npos)
      << error_of(outside);
  std::string bad_dist = text;
  const auto d = bad_dist.find("dist = \"loguniform\"", row);
  bad_dist.replace(d, 19, "dist = \"normal\"");
  EXPECT_NE(error_of(bad_dist).find("guest.fork.dist must be fixed, uniform or loguniform"),
            std::string::npos);
  std::string no_range = text;
  no_range.erase(low, no_range.find("dist", low) - low);
  EXPECT_NE(error_of(no_range).find("guest.fork has no low"), std::string::npos)
      << error_of(no_range);
}

TEST(CostProfile, TheIotlbInvalidationRangeIsTheSourcesThreeHundredToThreeThousand) {
  const CostProfile profile = find_profile("paper-era-server");  // unit() refers into it
  const UnitCost& u = profile.unit(sim::Event::kHwIotlbInvPage);
  EXPECT_EQ(u.low, 300);
  EXPECT_EQ(u.high, 3000);
  EXPECT_EQ(u.dist, Dist::kLogUniform);
  EXPECT_EQ(u.uncertainty, "300-3000 ns");
}

TEST(CostProfile, SyntaxErrorsCarryTheLine) {
  const std::string e = error_of("[profile]\nname = \"x\"\n[costs]\n\"a\" = { ns = \n");
  EXPECT_NE(e.find("test.toml:4"), std::string::npos) << e;
}

TEST(CostProfile, NegativeCostsAreRefused) {
  std::string text = complete_costs();
  const auto at = text.find("ns = ", text.find("\"guest.exit\""));
  text.replace(at, 5, "ns = -");
  EXPECT_NE(error_of(text).find("guest.exit.ns must be a number from 0 to 1e9"), std::string::npos);
}

TEST(CostProfile, SetOverridesAndIsRecorded) {
  CostProfile p = find_profile("paper-era-server");
  p.set("xen.entries", "250");
  EXPECT_EQ(p.ns(sim::Event::kXenEntry), 250);
  EXPECT_NE(p.unit(sim::Event::kXenEntry).source.find("--set"), std::string::npos);
  // The override is taken as exact and its original kept, also across a second --set.
  p.set("xen.entries", "260");
  ASSERT_EQ(p.overrides().size(), 1u);
  EXPECT_EQ(p.overrides()[0].ns, 260);
  EXPECT_EQ(p.overrides()[0].original_ns, 180);
  EXPECT_EQ(p.unit(sim::Event::kXenEntry).low, 260);
  EXPECT_EQ(p.unit(sim::Event::kXenEntry).dist, Dist::kFixed);
  EXPECT_EQ(p.label(), "paper-era-server, xen.entries=260 (was 180)");
  EXPECT_THROW(p.set("xen.pin", "1"), InputError);
  EXPECT_THROW(p.set("xen.entries", "fast"), InputError);
}

TEST(CostProfile, ResolvedDumpLoadsAgainUnchanged) {
  CostProfile p = find_profile("current-server");
  p.set("hw.mem.zero_page", "123.5");
  const CostProfile q = CostProfile::parse(p.to_toml(), "resolved");
  for (const auto& e : sim::kEventTable) {
    EXPECT_EQ(p.ns(e.event), q.ns(e.event)) << e.name;
    EXPECT_EQ(p.unit(e.event).source, q.unit(e.event).source) << e.name;
    EXPECT_EQ(p.unit(e.event).low, q.unit(e.event).low) << e.name;
    EXPECT_EQ(p.unit(e.event).high, q.unit(e.event).high) << e.name;
    EXPECT_EQ(p.unit(e.event).dist, q.unit(e.event).dist) << e.name;
  }
  EXPECT_EQ(p.label(), q.label());
  EXPECT_EQ(q.name(), "current-server");
}

TEST(CostProfile, UnknownProfileNameListsTheBuiltins) {
  try {
    find_profile("laptop");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("paper-era-server"), std::string::npos);
  }
}

}  // namespace
}  // namespace pib::cost
