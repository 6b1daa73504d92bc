// SPDX-License-Identifier: MIT
// The DMA adversary as a scenario setting (`[machine] dma_adversary`): whole workloads, with the
// device attacking between every two steps of every hypercall, run clean under Xen's own
// design and under PiBooster's fixed pool interface, in both Xen generations.
#include <gtest/gtest.h>

#include "scenario/runner.hpp"

namespace pib::scenario {
namespace {

class UnderDmaAttack : public ::testing::TestWithParam<std::string> {};

TEST_P(UnderDmaAttack, FindsNothingInXensDesignOrPiBoostersFixedOne) {
  for (const char* generation : {"paper-era", "4.17"}) {
    Scenario s = find_scenario(GetParam());
    s.iterations = 2;
    s.warmup = 1;
    s.set("machine.dma_adversary", "attack", "test");
    s.set("xen.generation", generation, "test");
    s.policies = {"baseline", "pibooster", "pibooster-validation-only"};
    const RunOutput run = run_scenario(s, cost::find_profile("paper-era-server"));
    for (const auto& r : run.results) {
      EXPECT_EQ(r.audit, std::vector<std::string>{}) << r.policy << " on " << generation;
    }
  }
}

TEST(UnderDmaAttack, TheSettingIsWrittenOnlyWhenOn) {
  Scenario s = find_scenario("pibooster-fork");
  EXPECT_EQ(s.to_toml().find("dma_adversary"), std::string::npos);
  s.set("machine.dma_adversary", "audit", "test");
  EXPECT_NE(s.to_toml().find("dma_adversary = \"audit\""), std::string::npos);
  EXPECT_THROW(s.set("machine.dma_adversary", "sometimes", "test"), InputError);
}

INSTANTIATE_TEST_SUITE_P(Stable, UnderDmaAttack,
                         ::testing::Values("pibooster-fork", "pibooster-net", "pibooster-shell8"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           for (char& c : n) {
                             if (c == '-') c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace pib::scenario
