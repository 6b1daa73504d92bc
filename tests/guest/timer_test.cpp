// SPDX-License-Identifier: MIT
// The guest's tick and timed sleeps on the running clock, under Xen and on bare metal: the timer
// is programmed once per tick, a polling daemon runs once per period (a switch to it and back),
// and time only changes how the work is cut into hypercalls, never the work itself.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "cost/cost_model.hpp"
#include "cost/cost_profile.hpp"
#include "support/guest_fixture.hpp"
#include "workload/workload.hpp"

namespace pib {
namespace {

using sim::Event;

uint64_t at(const workload::Counts& c, Event e) {
  return c[static_cast<std::size_t>(e)];
}

system::GuestSystemConfig timed(system::PvOpsKind kind, double scale, uint32_t hz) {
  auto cfg = test::guest_config(kind, 1, 16384, xen::XenGeneration::kModern);
  cfg.clock = cost::unit_costs(cost::find_profile("current-server"));
  cfg.clock_scale = scale;
  cfg.hz = hz;
  return cfg;
}

struct Timed {
  workload::Counts counts;
  double elapsed_ns = 0;
};

Timed run_fork(const system::GuestSystemConfig& cfg, uint64_t iterations) {
  system::GuestSystem sys(cfg);
  auto w = workload::make_workload("lat_proc.fork", workload::Params{});
  const double start = sys.ledger().clock_ns(0);
  const auto r = workload::run(sys, *w, "fork", iterations, 0);
  EXPECT_EQ(sys.audit(), std::vector<std::string>{});
  return {r.total, sys.ledger().clock_ns(0) - start};
}

// The guest takes an interrupt only at its interrupt windows, and a tick handled late is
// forwarded past the periods it missed (as hrtimer_forward does): a few ticks may merge when a
// stretch without a window outlasts a period.
void expect_ticks(uint64_t handled, double periods) {
  EXPECT_LE(static_cast<double>(handled), periods + 1);
  EXPECT_GE(static_cast<double>(handled), 0.9 * periods);
}

TEST(Timer, TheTickProgramsTheTimerOncePerPeriod) {
  // Stretched 20x, a 4 ms tick is 200 us of the profile's time: a fork+exit every ~1.5 ticks.
  const Timed t = run_fork(timed(system::PvOpsKind::kXen, 20, 250), 100);
  const double periods = t.elapsed_ns / 4e6;
  ASSERT_GT(periods, 40);
  expect_ticks(at(t.counts, Event::kXenHcVcpuOp), periods);
  EXPECT_EQ(at(t.counts, Event::kGuestTimerInterrupts), at(t.counts, Event::kXenHcVcpuOp));
  EXPECT_EQ(at(t.counts, Event::kXenTimerInterrupts), at(t.counts, Event::kXenHcVcpuOp));
}

TEST(Timer, TimeCutsTheWorkIntoMoreHypercallsButNeverChangesIt) {
  const Timed still = run_fork(
      test::guest_config(system::PvOpsKind::kXen, 1, 16384, xen::XenGeneration::kModern), 20);
  const Timed ticking = run_fork(timed(system::PvOpsKind::kXen, 20, 1000), 20);
  ASSERT_GT(at(ticking.counts, Event::kXenPreempted), 0u) << "the test must preempt something";
  EXPECT_GT(at(ticking.counts, Event::kXenContinuation), at(still.counts, Event::kXenContinuation));
  for (const Event e :
       {Event::kXenMmuUpdateRequests, Event::kXenMmuextOps, Event::kXenMcSubUpdateVaMapping,
        Event::kXenValidateTables, Event::kXenPin, Event::kXenUnpin, Event::kGuestPtAllocL1,
        Event::kGuestForkPtes, Event::kGuestZapPtes}) {
    EXPECT_EQ(at(ticking.counts, e), at(still.counts, e))
        << sim::kEventTable[static_cast<std::size_t>(e)].name;
  }
}

TEST(Timer, APollingDaemonRunsOncePerPeriodWithASwitchToItAndBack) {
  auto base = timed(system::PvOpsKind::kXen, 20, 250);
  const Timed without = run_fork(base, 100);
  base.poller_period_ns = 20'000'000;  // 20 ms
  const Timed with = run_fork(base, 100);
  // Its timeout restarts once it has run, at the next point the vCPU could reschedule.
  const auto wakeups = at(with.counts, Event::kGuestWakeups);
  const double periods = with.elapsed_ns / 20e6;
  EXPECT_LE(static_cast<double>(wakeups), periods + 1);
  EXPECT_GE(static_cast<double>(wakeups), 0.8 * periods);
  ASSERT_GT(wakeups, 5u);
  // Each run loads the daemon's address space, and afterwards one of the benchmark's: that is
  // a second switch unless the benchmark was switching processes anyway.
  const auto extra =
      at(with.counts, Event::kXenNewBaseptr) - at(without.counts, Event::kXenNewBaseptr);
  EXPECT_GE(extra, wakeups);
  EXPECT_LE(extra, 2 * wakeups);
}

TEST(Timer, TheTickRunsOnBareMetalWithoutHypercalls) {
  const Timed t = run_fork(timed(system::PvOpsKind::kNative, 20, 250), 100);
  const double periods = t.elapsed_ns / 4e6;
  ASSERT_GT(periods, 10);
  expect_ticks(at(t.counts, Event::kGuestTimerInterrupts), periods);
  EXPECT_EQ(at(t.counts, Event::kXenEntry), 0u);
}

TEST(Timer, ConfigurationErrorsAreNamed) {
  auto cfg = test::guest_config(system::PvOpsKind::kXen, 1, 16384, xen::XenGeneration::kModern);
  cfg.hz = 250;
  EXPECT_THROW(system::GuestSystem{cfg}, InputError) << "a tick without a clock";
  cfg = timed(system::PvOpsKind::kXen, 1, 0);
  cfg.poller_period_ns = 1'000'000;
  EXPECT_THROW(system::GuestSystem{cfg}, InputError) << "a daemon without a tick";
  cfg = timed(system::PvOpsKind::kXen, 0, 250);
  EXPECT_THROW(system::GuestSystem{cfg}, InputError) << "a clock that does not run";
}

}  // namespace
}  // namespace pib
