// SPDX-License-Identifier: MIT
// The example policy of docs/adding-a-policy.md, linux-quicklist, does what its file says:
// freed tables come back from its lists (no allocator, no zeroing), Xen's work is unchanged,
// the lists are trimmed and give pages back under memory pressure.
#include <gtest/gtest.h>

#include "policies/policy_table.hpp"
#include "scenario/runner.hpp"
#include "system/guest_system.hpp"

namespace pib::scenario {
namespace {

using sim::Event;

const PolicyResult& result(const RunOutput& run, const std::string& policy) {
  for (const auto& r : run.results) {
    if (r.policy == policy) return r;
  }
  throw std::runtime_error("no result for " + policy);
}

TEST(ExamplePolicy, IsListedWithADescription) {
  const auto& p = policies::find_policy("linux-quicklist");
  EXPECT_FALSE(p.description.empty());
}

TEST(ExamplePolicy, QuicklistServesForkExitTablesWithoutTheAllocatorAndLeavesXenAlone) {
  Scenario s = find_scenario("pibooster-fork");
  s.iterations = 5;
  s.policies = {"baseline", "linux-quicklist"};
  const RunOutput run = run_scenario(s, cost::find_profile("paper-era-server"));
  const PolicyResult& base = result(run, "baseline");
  const PolicyResult& ql = result(run, "linux-quicklist");
  // Every L1-L3 table and pgd of the steady state is a hit; the user pgd is not a quicklist
  // page (xen_pgd_alloc takes it from the allocator).
  const double tables =
      ql.mean_count(Event::kGuestPtAllocL1) + ql.mean_count(Event::kGuestPtAllocL2) +
      ql.mean_count(Event::kGuestPtAllocL3) + ql.mean_count(Event::kGuestPgdAlloc);
  EXPECT_GT(tables, 0.0);
  EXPECT_DOUBLE_EQ(ql.mean_count(Event::kGuestPtCacheHit), tables);
  EXPECT_DOUBLE_EQ(ql.mean_count(Event::kGuestPtCacheMiss), 0.0);
  EXPECT_DOUBLE_EQ(base.mean_count(Event::kGuestPageAlloc) - ql.mean_count(Event::kGuestPageAlloc),
                   tables);
  EXPECT_LT(ql.mean_count(Event::kHwMemZeroPage), base.mean_count(Event::kHwMemZeroPage));
  // Xen unchanged: the same pins, validations and IOTLB invalidations as baseline.
  for (const Event e : {Event::kXenPin, Event::kXenValidateTables, Event::kHwIotlbInvPage,
                        Event::kXenTypeChangeToPt}) {
    EXPECT_DOUBLE_EQ(ql.mean_count(e), base.mean_count(e)) << sim::event_name(e);
  }
  EXPECT_LT(ql.latency.mean, base.latency.mean);
  EXPECT_EQ(ql.audit, std::vector<std::string>{});
  // Its lists show in the results.
  ASSERT_EQ(ql.ptcache_held.size(), 2u);
  EXPECT_GT(ql.ptcache_held[0].second + ql.ptcache_held[1].second, 0u);
}

TEST(ExamplePolicy, QuicklistGivesPagesBackUnderMemoryPressure) {
  system::GuestSystemConfig cfg;
  cfg.guest_pages = 4096;
  policies::apply_policy("linux-quicklist", cfg);
  system::GuestSystem sys(cfg);
  auto& k = sys.kernel();
  const auto img = guest::builtin_image("lmbench-hello");
  // Many processes at once, then all gone: their tables end up on the lists.
  std::vector<guest::Pid> kids;
  for (int i = 0; i < 20; ++i) {
    kids.push_back(k.spawn(img));
    k.run_startup(kids.back(), img);
  }
  for (const auto pid : kids) k.exit(pid);
  uint64_t held = 0;
  for (const auto& [kind, n] : sys.pt_pages().held()) held += n;
  ASSERT_GT(held, 25u);
  // A process that needs every free page and more: the lists must shrink rather than fail.
  const auto p = k.spawn(img);
  k.run_startup(p, img);
  const uint64_t want = k.free_pages() + 20;
  const uint64_t a = k.mmap(p, guest::MapRequest::anonymous(want * kPageSize));
  for (uint64_t i = 0; i < want; ++i) ASSERT_TRUE(k.store(p, a + i * kPageSize, i)) << i;
  EXPECT_GT(sys.ledger().count(Event::kGuestPtCacheRelease), 0u);
  EXPECT_EQ(sys.audit(), std::vector<std::string>{});
}

}  // namespace
}  // namespace pib::scenario
