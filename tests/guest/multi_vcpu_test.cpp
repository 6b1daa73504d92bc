// SPDX-License-Identifier: MIT
// Counts that depend on other vCPUs (xen-pv-mmu.md B2 "when unpinning happens", B4 (2) step 4):
// an mm still loaded lazily on another vCPU gets that vCPU an IPI at exit, and a fork of a
// parent loaded on two vCPUs flushes both.
#include <gtest/gtest.h>

#include "support/guest_fixture.hpp"

namespace pib {
namespace {

using guest::Pid;
using sim::Event;
using test::GuestFixture;

TEST(MultiVcpu, ExitSendsAnIpiToAVcpuThatStillHasTheMmLoaded) {
  GuestFixture fx(system::PvOpsKind::kXen, 2);
  auto& k = fx.k();
  const auto img = guest::builtin_image("tiny-static");
  const Pid p = k.spawn(img, 1);
  k.run_startup(p, img);
  k.migrate(p, 0);  // vCPU 1 goes idle and keeps p's mm loaded
  ASSERT_TRUE(k.store(p, k.mm(p).stack_top - 8, 1));
  EXPECT_EQ(k.mm(p).cpumask, 0b11u);
  const auto d = fx.measure([&] { k.exit(p); });
  EXPECT_EQ(d[Event::kGuestIpi], 1u);
  EXPECT_EQ(d[Event::kXenNewBaseptr], 2u);  // leave_mm here and on vCPU 1
  EXPECT_EQ(d[Event::kGuestPgdUnpin], 1u);
  EXPECT_EQ(d[Event::kXenHcFailed], 0u);
  k.quiesce();
  EXPECT_EQ(fx.sys().audit(), std::vector<std::string>{});
}

// Remote flushes at fork with the parent's mm loaded on `vcpus_with_mm` vCPUs.
uint64_t remote_flushes_of_fork(bool also_on_vcpu1) {
  GuestFixture fx(system::PvOpsKind::kXen, 2);
  auto& k = fx.k();
  const auto img = guest::builtin_image("tiny-static");
  const Pid p = k.spawn(img, also_on_vcpu1 ? 1 : 0);
  k.run_startup(p, img);
  if (also_on_vcpu1) k.migrate(p, 0);  // vCPU 1 keeps the mm loaded lazily
  EXPECT_TRUE(k.store(p, k.mm(p).stack_top - 8, 1));
  EXPECT_EQ(k.mm(p).cpumask, also_on_vcpu1 ? 0b11u : 0b01u);
  return fx.measure([&] { k.fork(p); })[Event::kXenTlbFlushRemote];
}

TEST(MultiVcpu, ForkFlushesTheParentOnEveryVcpuThatHasIt) {
  // flush_tlb_mm(parent) becomes one TLB_FLUSH_MULTI, which reaches vCPU 1 by IPI; everything
  // else (type-change shoot-downs to the domain's dirty CPUs) is the same in both runs.
  EXPECT_EQ(remote_flushes_of_fork(true), remote_flushes_of_fork(false) + 1);
}

TEST(MultiVcpu, NativeForkIpisTheOtherCpu) {
  GuestFixture fx(system::PvOpsKind::kNative, 2);
  auto& k = fx.k();
  const auto img = guest::builtin_image("tiny-static");
  const Pid p = k.spawn(img, 1);
  k.run_startup(p, img);
  k.migrate(p, 0);
  ASSERT_TRUE(k.store(p, k.mm(p).stack_top - 8, 1));
  const auto d = fx.measure([&] { k.fork(p); });
  EXPECT_EQ(d[Event::kGuestIpi], 1u);
}

}  // namespace
}  // namespace pib
