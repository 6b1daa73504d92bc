// SPDX-License-Identifier: MIT
// Time in the hypervisor: the vCPU's one-shot timer (vcpu_op), VIRQ_TIMER, and the preemption of
// long hypercalls once the timer interrupt arrives during them, which continue through a
// continuation carrying the items left. A preempted hypercall must end exactly as an unpreempted
// one would; only the counts of entries differ.
#include <array>

#include "support/pv_fixture.hpp"

namespace pib::test {
namespace {

using namespace hw::pte_bits;
using sim::Event;

// A clock in which only the named events take time (1 ns each unless given).
void clock_on(PvFixture& fx, std::initializer_list<std::pair<Event, double>> costs) {
  std::array<double, sim::kEventCount> units{};
  for (const auto& [e, ns] : costs) units[static_cast<std::size_t>(e)] = ns;
  fx.ledger.set_clock(units);
}

uint64_t now(const PvFixture& fx) {
  return fx.xen.system_time_ns(0);
}

// `n` requests mapping `data` read-only at entries 0..n-1 of `t`.
std::vector<abi::MmuUpdate> fill(PvFixture& fx, Pfn t, Pfn data, uint64_t n) {
  std::vector<abi::MmuUpdate> reqs;
  for (uint64_t i = 0; i < n; ++i) {
    reqs.push_back(abi::make_mmu_update(fx.entry(t, i), fx.pte(data, kDataRo | kUser)));
  }
  return reqs;
}

// A pinned, empty L1 table and a data page to map in it.
struct PinnedL1 {
  PvFixture fx;
  Pfn data = fx.alloc();
  Pfn t = fx.make_table();
  PinnedL1() { EXPECT_EQ(fx.pin(1, t), kOk); }
};

TEST(PreemptionRules, OneShotTimerRaisesVirqTimerOnceOnTheWayBackToTheGuest) {
  PvFixture fx;
  clock_on(fx, {{Event::kXenEntry, 100}});
  const uint64_t deadline = now(fx) + 250;
  ASSERT_EQ(fx.xen.vcpu_op(0, abi::kVcpuOpSetSingleshotTimer, deadline), kOk);
  EXPECT_EQ(fx.xen.take_pending_virqs(0), 0u) << "not expired yet";
  const Pfn data = fx.alloc();
  ASSERT_EQ(fx.remap(data, false), kOk);  // time passes in Xen
  ASSERT_EQ(fx.remap(data, true), kOk);
  ASSERT_GE(now(fx), deadline);
  EXPECT_EQ(fx.xen.take_pending_virqs(0), 1u << abi::kVirqTimer);
  EXPECT_EQ(fx.xen.take_pending_virqs(0), 0u) << "taken once";
  EXPECT_EQ(fx.count(Event::kXenTimerInterrupts), 1u);
  // One shot: nothing more fires until the guest programs it again.
  ASSERT_EQ(fx.remap(data, false), kOk);
  EXPECT_EQ(fx.xen.take_pending_virqs(0), 0u);
  EXPECT_EQ(fx.count(Event::kXenHcVcpuOp), 1u);
}

TEST(PreemptionRules, StoppedTimerNeverFiresAndUnknownCommandsAreRefused) {
  PvFixture fx;
  clock_on(fx, {{Event::kXenEntry, 100}});
  ASSERT_EQ(fx.xen.vcpu_op(0, abi::kVcpuOpSetSingleshotTimer, now(fx) + 150), kOk);
  ASSERT_EQ(fx.xen.vcpu_op(0, abi::kVcpuOpStopSingleshotTimer, 0), kOk);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(fx.remap(fx.alloc(), false), kOk);
  EXPECT_EQ(fx.xen.take_pending_virqs(0), 0u);
  EXPECT_EQ(fx.xen.vcpu_op(0, 77, 0), abi::err::kENOSYS);
  EXPECT_EQ(fx.count(Event::kXenHcFailed), 1u);
  // A deadline already past fires at once (no VCPU_SSHOTTMR_future refusal).
  ASSERT_EQ(fx.xen.vcpu_op(0, abi::kVcpuOpSetSingleshotTimer, 0), kOk);
  EXPECT_EQ(fx.xen.take_pending_virqs(0), 1u << abi::kVirqTimer);
}

TEST(PreemptionRules, MmuUpdatePreemptedMidwayContinuesWithTheRest) {
  PinnedL1 l1;
  auto& [fx, data, t] = l1;
  clock_on(fx, {{Event::kXenMmuUpdateRequests, 100}});
  const auto reqs = fill(fx, t, data, 8);
  // The interrupt arrives while the fourth request is handled: Xen stops before the fifth.
  ASSERT_EQ(fx.xen.vcpu_op(0, abi::kVcpuOpSetSingleshotTimer, now(fx) + 350), kOk);
  uint32_t done = 0;
  ASSERT_EQ(fx.xen.mmu_update(0, reqs, &done, abi::kDomidSelf), kOk);
  EXPECT_EQ(done, 8u) << "the guest sees one hypercall that did everything";
  EXPECT_EQ(fx.count(Event::kXenPreempted), 1u);
  EXPECT_EQ(fx.count(Event::kXenContinuation), 1u);
  EXPECT_EQ(fx.count(Event::kXenHcMmuUpdate), 2u) << "entered twice";
  EXPECT_EQ(fx.count(Event::kXenMmuUpdateRequests), 8u) << "each request ran once";
  EXPECT_EQ(fx.count(Event::kXenMmuUpdateRequeued), 4u) << "the continuation announced 4";
  for (uint64_t i = 0; i < 8; ++i) EXPECT_NE(fx.load(t, i).value, 0u) << i;
  EXPECT_EQ(fx.xen.take_pending_virqs(0), 1u << abi::kVirqTimer);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PreemptionRules, InterruptArrivedInGuestTimeDoesNotPreemptTheNextHypercall) {
  PinnedL1 l1;
  auto& [fx, data, t] = l1;
  clock_on(fx, {{Event::kXenMmuUpdateRequests, 100},
                {Event::kHwTlbHit, 100},
                {Event::kHwTlbMiss, 100},
                {Event::kHwWalk, 100}});
  ASSERT_EQ(fx.xen.vcpu_op(0, abi::kVcpuOpSetSingleshotTimer, now(fx) + 50), kOk);
  ASSERT_TRUE(fx.load(data, 0).ok);  // the guest runs past the deadline
  uint32_t done = 0;
  ASSERT_EQ(fx.xen.mmu_update(0, fill(fx, t, data, 8), &done, abi::kDomidSelf), kOk);
  EXPECT_EQ(fx.count(Event::kXenPreempted), 0u) << "the softirq ran before the hypercall";
  EXPECT_EQ(fx.xen.take_pending_virqs(0), 1u << abi::kVirqTimer);
}

TEST(PreemptionRules, MulticallPreemptedBetweenEntriesReentersWithTheEntriesLeft) {
  PvFixture fx;
  std::vector<Pfn> pages;
  for (int i = 0; i < 6; ++i) pages.push_back(fx.alloc());
  clock_on(fx, {{Event::kXenHcUpdateVaMapping, 100}});
  std::vector<abi::MulticallEntry> batch;
  batch.reserve(pages.size());
  for (const Pfn p : pages) {
    abi::MulticallEntry e;
    e.op = abi::HypercallNr::kUpdateVaMapping;
    e.uvm = abi::UpdateVaMapping{.va = fx.va(p), .val = fx.pte(p, kDataRo | kNx)};
    batch.push_back(e);
  }
  ASSERT_EQ(fx.xen.vcpu_op(0, abi::kVcpuOpSetSingleshotTimer, now(fx) + 150), kOk);
  ASSERT_EQ(fx.xen.multicall(0, batch), kOk);
  for (const auto& e : batch) EXPECT_EQ(e.result, kOk);
  EXPECT_EQ(fx.count(Event::kXenHcMulticall), 2u);
  EXPECT_EQ(fx.count(Event::kXenMulticallEntries), 6u);
  EXPECT_EQ(fx.count(Event::kXenMulticallRequeued), 4u) << "stopped before the third entry";
  EXPECT_EQ(fx.count(Event::kXenMcSubUpdateVaMapping), 6u) << "each entry ran once";
  for (const Pfn p : pages) EXPECT_EQ(fx.store(p, 0, 1).ok, false) << "now read-only";
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PreemptionRules, PreemptedSubCallIsRewrittenToWhatItHasLeft) {
  PinnedL1 l1;
  auto& [fx, data, t] = l1;
  clock_on(fx, {{Event::kXenMmuUpdateRequests, 100}});
  std::vector<abi::MulticallEntry> batch(2);
  batch[0].op = abi::HypercallNr::kMmuUpdate;
  batch[0].mmu_updates = fill(fx, t, data, 6);
  batch[1].op = abi::HypercallNr::kMmuUpdate;
  batch[1].mmu_updates = {abi::make_mmu_update(fx.entry(t, 9), fx.pte(data, kDataRo | kUser))};
  ASSERT_EQ(fx.xen.vcpu_op(0, abi::kVcpuOpSetSingleshotTimer, now(fx) + 250), kOk);
  ASSERT_EQ(fx.xen.multicall(0, batch), kOk);
  EXPECT_EQ(batch[0].result, kOk);
  EXPECT_EQ(batch[1].result, kOk);
  EXPECT_EQ(batch[0].mmu_updates.size(), 3u) << "Xen wrote the sub-call's continuation back";
  EXPECT_EQ(fx.count(Event::kXenMcSubMmuUpdate), 3u) << "the first sub-call ran twice";
  EXPECT_EQ(fx.count(Event::kXenMmuUpdateRequests), 7u) << "each request once";
  EXPECT_EQ(fx.count(Event::kXenMulticallRequeued), 2u);
  for (const uint64_t i : {0, 1, 2, 3, 4, 5, 9}) EXPECT_NE(fx.load(t, i).value, 0u) << i;
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PreemptionRules, AGuestRearmingItsTimerStillMakesProgress) {
  // A malicious guest arms the timer to fire inside every hypercall: each entry still completes
  // at least one item, so a batch always finishes.
  PinnedL1 l1;
  auto& [fx, data, t] = l1;
  clock_on(fx, {{Event::kXenMmuUpdateRequests, 100}});
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(fx.xen.vcpu_op(0, abi::kVcpuOpSetSingleshotTimer, now(fx) + 1), kOk);
    uint32_t done = 0;
    ASSERT_EQ(fx.xen.mmu_update(0, fill(fx, t, data, 16), &done, abi::kDomidSelf), kOk);
    EXPECT_EQ(done, 16u);
  }
  EXPECT_EQ(fx.count(Event::kXenPreempted), 3u);
  EXPECT_EQ(fx.count(Event::kXenMmuUpdateRequests), 48u);
  EXPECT_AUDIT_CLEAN(fx);
}

}  // namespace
}  // namespace pib::test
