// SPDX-License-Identifier: MIT
// Page-table pages freed by a teardown are reused only after an RCU grace period where Linux
// says so (xen-pv-mmu.md B2, pibooster.md "RCU table freeing"): Xen PV Linux 6 frees them
// through tlb_remove_table's RCU callback; bare metal and the ≈4.12 generation free them after
// the flush; PiBooster's cache waits for a grace period itself on a kernel that does not.
#include <gtest/gtest.h>

#include <string>

#include "guest/pgtable.hpp"
#include "pibooster/guest/pt_cache.hpp"
#include "policies/policy_table.hpp"
#include "support/guest_fixture.hpp"

namespace pib {
namespace {

using guest::Pid;
using guest::TableKind;
using sim::Event;

constexpr uint64_t kFar = 0x7000'0000'0000ULL;  // its own L3 slot: fresh L2 and L1 tables

system::GuestSystemConfig config(const char* policy, guest::LinuxGeneration linux) {
  system::GuestSystemConfig c =
      test::guest_config(system::PvOpsKind::kXen, 2, 8192, xen::XenGeneration::kModern);
  policies::apply_policy(policy, c);
  c.linux_generation = linux;
  return c;
}

// Two processes, one per vCPU, both running. Returns the process on vCPU 0.
struct TwoRunning {
  explicit TwoRunning(guest::Kernel& k) {
    const auto img = guest::builtin_image("tiny-static");
    a = k.spawn(img, 0);
    k.run_startup(a, img);
    b = k.spawn(img, 1);
    k.run_startup(b, img);
  }
  Pid a = 0, b = 0;
};

// Maps, touches and unmaps an area of its own in `pid`: its L1 and L2 are freed.
void map_touch_unmap(guest::Kernel& k, Pid pid) {
  guest::MapRequest r = guest::MapRequest::anonymous(kPageSize);
  r.fixed_address = kFar;
  k.mmap(pid, r);
  ASSERT_TRUE(k.store(pid, kFar, 1));
  k.munmap(pid, kFar, kPageSize);
}

TEST(RcuTableFree, XenLinux6FreesTablesOnlyAfterEveryVcpuPassedAQuiescentState) {
  test::GuestFixture fx(config("baseline", guest::LinuxGeneration::kLinux6));
  auto& k = fx.k();
  TwoRunning p(k);
  // Each exec freed its argument stack's first L1 and L2 through RCU (shift_arg_pages): a
  // quiescent state on each vCPU lets those go before counting.
  ASSERT_TRUE(k.store(p.b, k.mm(p.b).stack_top - 8, 1));
  ASSERT_TRUE(k.store(p.a, k.mm(p.a).stack_top - 8, 1));
  const uint64_t before = k.free_pages();
  const auto d = fx.measure([&] { map_touch_unmap(k, p.a); });
  EXPECT_GE(d[Event::kGuestRcuTables], 2u);  // the L1 and the L2
  // Still held: vCPU 1 ran user code last and has not passed a quiescent state since.
  EXPECT_EQ(k.core().rcu().pending(), 1u);
  EXPECT_EQ(k.free_pages(), before - d[Event::kGuestRcuTables]);
  ASSERT_TRUE(k.store(p.b, k.mm(p.b).stack_top - 8, 2));  // b enters the kernel: quiescent
  ASSERT_TRUE(k.store(p.a, k.mm(p.a).stack_top - 8, 2));  // a returns to user: quiescent
  EXPECT_EQ(k.core().rcu().pending(), 0u);
  EXPECT_EQ(k.free_pages(), before);
  EXPECT_EQ(fx.sys().audit(), std::vector<std::string>{});
}

TEST(RcuTableFree, NativeAndLinux4FreeAfterTheFlush) {
  for (const char* policy : {"native", "baseline"}) {
    test::GuestFixture fx(config(policy, guest::LinuxGeneration::kLinux4));
    auto& k = fx.k();
    TwoRunning p(k);
    const auto d = fx.measure([&] { map_touch_unmap(k, p.a); });
    EXPECT_EQ(d[Event::kGuestRcuTables], 0u) << policy;
    EXPECT_EQ(k.core().rcu().pending(), 0u) << policy;
  }
}

// The sound cache waits for a grace period (its callbacks are pending); the 2016 one does not.
bool waits_for_grace_periods(const char* policy) {
  return std::string(policy) == "pibooster";
}

// Whether the L1 `a` just freed is handed out again to `b` at once.
bool l1_reused_before_a_grace_period(const char* policy) {
  test::GuestFixture fx(config(policy, guest::LinuxGeneration::kLinux4));
  auto& k = fx.k();
  TwoRunning p(k);
  map_touch_unmap(k, p.a);  // warms the cache's L1 level
  // a maps, touches and unmaps the area again; right after, b on vCPU 1 maps one that needs a
  // new L1, before vCPU 0 has passed a quiescent state.
  guest::MapRequest r = guest::MapRequest::anonymous(kPageSize);
  r.fixed_address = kFar;
  k.mmap(p.a, r);
  EXPECT_TRUE(k.store(p.a, kFar, 1));
  k.schedule(p.a);  // into the kernel on vCPU 0, to read its tables
  const auto e = guest::PageTables(k.core()).lookup(k.mm(p.a), Vaddr{kFar});
  EXPECT_TRUE(e.has_value());
  const Pfn l1 = e->table;
  k.munmap(p.a, kFar, kPageSize);
  k.mmap(p.b, r);
  EXPECT_TRUE(k.store(p.b, kFar, 1));
  k.schedule(p.b);  // into the kernel on vCPU 1 (vCPU 0 is still inside a's munmap)
  EXPECT_EQ(k.core().rcu().pending() > 0, waits_for_grace_periods(policy));
  const auto eb = guest::PageTables(k.core()).lookup(k.mm(p.b), Vaddr{kFar});
  EXPECT_TRUE(eb.has_value());
  EXPECT_EQ(fx.sys().audit(), std::vector<std::string>{});
  return eb->table == l1;
}

TEST(RcuTableFree, PiBoosterWaitsForAGracePeriodOnAKernelThatDoesNot) {
  EXPECT_TRUE(l1_reused_before_a_grace_period("pibooster-2016"));  // the flaw
  EXPECT_FALSE(l1_reused_before_a_grace_period("pibooster"));
}

}  // namespace
}  // namespace pib
