// SPDX-License-Identifier: MIT
// PiBooster's cache as a good citizen (issue: "PiBooster, sound"): under memory pressure it fits
// at least as many processes as the guest without it, and under fluctuating demand adaptive
// sizing keeps the IOTLB invalidations near zero without holding much more than a pool with
// perfect foresight would.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "pibooster/guest/pt_cache.hpp"
#include "policies/policy_table.hpp"
#include "scenario/runner.hpp"
#include "system/guest_system.hpp"
#include "workload/workload.hpp"

namespace pib::scenario {
namespace {

using sim::Event;

// Whether `children` live processes fit in the pressure scenario's guest under `policy`.
bool fits(const std::string& policy, uint64_t children, uint64_t* reclaimed = nullptr) {
  Scenario s = find_scenario("pibooster-pressure");
  system::GuestSystemConfig cfg = s.system;
  policies::apply_policy(policy, cfg);
  system::GuestSystem sys(cfg);
  workload::Params p = s.workload.params;
  p.set("children", std::to_string(children));
  auto w = workload::make_workload(s.workload.name, p);
  try {
    w->setup(sys);
    w->iteration(sys);
  } catch (const guest::OutOfMemory&) {
    return false;
  }
  if (reclaimed != nullptr) *reclaimed = sys.ledger().count(Event::kGuestReclaimPages);
  EXPECT_EQ(sys.audit(), std::vector<std::string>{}) << policy;
  return true;
}

uint64_t most_that_fit(const std::string& policy) {
  uint64_t lo = 1, hi = 512;  // fits(lo), !fits(hi)
  EXPECT_TRUE(fits(policy, lo));
  EXPECT_FALSE(fits(policy, hi));
  while (hi - lo > 1) {
    const uint64_t mid = (lo + hi) / 2;
    (fits(policy, mid) ? lo : hi) = mid;
  }
  return lo;
}

TEST(PiBoosterPressure, FitsAsManyProcessesAsBaseline) {
  const uint64_t baseline = most_that_fit("baseline");
  const uint64_t pibooster = most_that_fit("pibooster");
  const uint64_t old = most_that_fit("pibooster-2016");
  RecordProperty("baseline", std::to_string(baseline));
  RecordProperty("pibooster", std::to_string(pibooster));
  RecordProperty("pibooster_2016", std::to_string(old));
  EXPECT_GE(pibooster, baseline);
  EXPECT_LT(old, baseline);  // the flaw the shrinker fixes
  uint64_t reclaimed = 0;
  ASSERT_TRUE(fits("pibooster", baseline, &reclaimed));
  EXPECT_GT(reclaimed, 0u);  // kswapd took ready pages back below the low watermark
}

// Watches the cache of each policy's system for the fluctuating scenario.
struct CacheWatch : RunObserver {
  std::map<std::size_t, std::pair<uint64_t, uint64_t>> peaks;  // policy -> (owned, demand)
  void policy_done(std::size_t policy, system::GuestSystem& sys) override {
    if (auto* c = dynamic_cast<pibooster::PageTableCache*>(&sys.pt_pages())) {
      peaks[policy] = {c->peak_owned(), c->peak_demand()};
    }
  }
};

uint64_t invalidations(const PolicyResult& r) {
  return r.total[static_cast<std::size_t>(Event::kHwIotlbInvPage)] +
         r.total[static_cast<std::size_t>(Event::kHwIotlbInvDomain)] +
         r.total[static_cast<std::size_t>(Event::kHwIotlbInvGlobal)];
}

TEST(PiBoosterFluctuating, AdaptiveSizingMakesFewInvalidationsWithoutHoarding) {
  const Scenario s = find_scenario("pibooster-fluctuating");
  CacheWatch watch;
  const RunOutput run = run_scenario(s, cost::find_profile("paper-era-server"), {}, &watch);
  std::map<std::string, std::size_t> at;
  for (std::size_t i = 0; i < run.results.size(); ++i) at[run.results[i].policy] = i;
  ASSERT_EQ(at.count("baseline"), 1u);
  ASSERT_EQ(at.count("pibooster"), 1u);
  ASSERT_EQ(at.count("pibooster-fixed"), 1u);
  const uint64_t base = invalidations(run.results[at["baseline"]]);
  const uint64_t adaptive = invalidations(run.results[at["pibooster"]]);
  const uint64_t fixed = invalidations(run.results[at["pibooster-fixed"]]);
  ASSERT_GT(base, 0u);
  EXPECT_LE(adaptive * 100, base * 5) << adaptive << " of " << base;
  EXPECT_GT(fixed, adaptive);  // a small fixed size refills at every burst
  const auto [owned, demand] = watch.peaks.at(at["pibooster"]);
  ASSERT_GT(demand, 0u);
  EXPECT_LE(owned, 2 * demand) << owned << " owned at most, " << demand << " needed at most";
  for (const auto& r : run.results) EXPECT_EQ(r.audit, std::vector<std::string>{}) << r.policy;
}

}  // namespace
}  // namespace pib::scenario
