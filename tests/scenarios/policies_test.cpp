// SPDX-License-Identifier: MIT
// Every policy runs every built-in scenario cleanly (hypervisor audit empty), and the
// page-table cache gives pages back under memory pressure instead of failing.
#include <gtest/gtest.h>

#include "pibooster/guest/pt_cache.hpp"
#include "policies/policy_table.hpp"
#include "scenario/runner.hpp"
#include "system/guest_system.hpp"

namespace pib::scenario {
namespace {

class EveryScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryScenario, RunsUnderEveryPolicy) {
  Scenario s = find_scenario(GetParam());
  s.iterations = 1;
  s.warmup = 1;
  s.policies.clear();
  for (const auto& p : policies::policy_table()) s.policies.emplace_back(p.name);
  const RunOutput run = run_scenario(s, cost::find_profile("paper-era-server"));
  ASSERT_EQ(run.results.size(), policies::policy_table().size());
  for (const auto& r : run.results) {
    EXPECT_EQ(r.audit, std::vector<std::string>{}) << r.policy;
    EXPECT_GT(r.latency.mean, 0.0) << r.policy;
  }
}

std::vector<std::string> names() {
  std::vector<std::string> out;
  for (const auto& b : builtin_scenarios()) out.push_back(b.name);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Builtin, EveryScenario, ::testing::ValuesIn(names()),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           for (char& c : n) {
                             if (c == '-') c = '_';
                           }
                           return n;
                         });

TEST(PtCache, GivesPagesBackUnderMemoryPressure) {
  system::GuestSystemConfig cfg;
  cfg.guest_pages = 4096;
  policies::apply_policy("pibooster", cfg);
  cfg.iommu = xen::IommuMode::kSync;
  cfg.ptcache.refill_batch = 256;  // the cache grabs a lot at once
  cfg.ptcache.high_watermark = 1000;
  // Fixed watermarks: the adaptive sizing would give the batch back as soon as exec's stack move
  // frees its first L1 into the cache.
  cfg.ptcache.adaptive = false;
  system::GuestSystem sys(cfg);
  auto& k = sys.kernel();
  const auto img = guest::builtin_image("tiny-static");
  const auto p = k.spawn(img);
  k.run_startup(p, img);
  ASSERT_GT(dynamic_cast<pibooster::PageTableCache&>(sys.pt_pages()).held(guest::TableKind::kL1),
            200u);
  // Now the process wants more memory than is left outside the cache.
  const uint64_t want = k.free_pages() + 100;
  const uint64_t a = k.mmap(p, guest::MapRequest::anonymous(want * kPageSize));
  for (uint64_t i = 0; i < want; ++i) ASSERT_TRUE(k.store(p, a + i * kPageSize, i)) << i;
  EXPECT_GT(sys.ledger().count(sim::Event::kGuestPtCacheRelease), 0u);
  EXPECT_EQ(sys.audit(), std::vector<std::string>{});
}

}  // namespace
}  // namespace pib::scenario
