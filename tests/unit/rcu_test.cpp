// SPDX-License-Identifier: MIT
// RCU's grace-period rule (guest/rcu.hpp): a callback runs only once every vCPU that was not idle
// has passed a quiescent state after it was queued.
#include "guest/rcu.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace pib::guest {
namespace {

std::vector<int> run(std::vector<Rcu::Ready> ready) {
  std::vector<int> ran;
  for (auto& r : ready) {
    r.fn();
    ran.push_back(static_cast<int>(r.cpu));
  }
  return ran;
}

TEST(Rcu, WaitsForEveryVcpu) {
  Rcu rcu(2);
  bool done = false;
  rcu.call(0, [&] { done = true; });
  EXPECT_TRUE(run(rcu.quiescent(0)).empty());  // vCPU 1 may still be inside a read section
  EXPECT_FALSE(done);
  EXPECT_EQ(run(rcu.quiescent(1)), std::vector<int>{0});  // runs on the vCPU that queued it
  EXPECT_TRUE(done);
  EXPECT_EQ(rcu.completed(), 1u);
  EXPECT_EQ(rcu.pending(), 0u);
}

TEST(Rcu, ACallbackQueuedDuringAGracePeriodWaitsForTheNext) {
  Rcu rcu(2);
  int order = 0, first = 0, second = 0;
  rcu.call(0, [&] { first = ++order; });
  rcu.quiescent(1);                        // vCPU 1 reports for the first grace period...
  rcu.call(1, [&] { second = ++order; });  // ...then queues: it may hold a new reference
  run(rcu.quiescent(0));                   // the first grace period ends
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 0);
  run(rcu.quiescent(0));
  EXPECT_EQ(second, 0);  // vCPU 1 has not passed a quiescent state in the second one
  run(rcu.quiescent(1));
  EXPECT_EQ(second, 2);
  EXPECT_EQ(rcu.completed(), 2u);
}

TEST(Rcu, IdleVcpusAreNotWaitedFor) {
  Rcu rcu(3);
  rcu.set_idle_predicate([](VcpuId v) { return v == 2; });
  bool done = false;
  rcu.call(0, [&] { done = true; });
  run(rcu.quiescent(1));
  EXPECT_FALSE(done);
  run(rcu.quiescent(0));
  EXPECT_TRUE(done);
}

TEST(Rcu, NothingHappensWithoutCallbacks) {
  Rcu rcu(1);
  EXPECT_TRUE(rcu.quiescent(0).empty());
  EXPECT_EQ(rcu.completed(), 0u);
  EXPECT_FALSE(rcu.in_progress());
}

}  // namespace
}  // namespace pib::guest
