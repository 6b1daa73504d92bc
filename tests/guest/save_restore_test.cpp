// SPDX-License-Identifier: MIT
// Save and restore of the guest (a local migration, xen/save_restore.hpp) and the pgd list it
// relies on: Linux pins every constructed root before it suspends (xen_mm_pin_all), so the
// toolstack rewrites the frames in it; a cache that keeps constructed pgds must keep them on
// that list, or they come back holding the old domain's frames.
#include <gtest/gtest.h>

#include <string>

#include "common/error.hpp"
#include "guest/kernel_core.hpp"
#include "guest/page_alloc.hpp"
#include "guest/pt_pages.hpp"
#include "guest/xen/xen_pv_ops.hpp"
#include "policies/policy_table.hpp"
#include "support/guest_fixture.hpp"

namespace pib {
namespace {

using guest::Pid;
using guest::TableKind;

constexpr uint64_t kHeapValue = 0x5eed'0000'1234ULL;

system::GuestSystemConfig config(const char* policy, xen::IommuMode iommu = xen::IommuMode::kNone,
                                 bool room = true) {
  system::GuestSystemConfig c =
      test::guest_config(system::PvOpsKind::kXen, 2, 8192, xen::XenGeneration::kModern);
  policies::apply_policy(policy, c);
  c.iommu = iommu;
  c.save_restore_room = room;
  return c;
}

// A process that has written a value into a page of its stack.
Pid writer(guest::Kernel& k, VcpuId cpu) {
  const auto img = guest::builtin_image("tiny-static");
  const Pid p = k.spawn(img, cpu);
  k.run_startup(p, img);
  EXPECT_TRUE(k.store(p, k.mm(p).stack_top - 64, kHeapValue + cpu));
  return p;
}

// Forks and exits a few children: a cache fills, baseline frees everything again.
void churn(guest::Kernel& k, Pid parent, int times) {
  for (int i = 0; i < times; ++i) {
    const Pid c = k.fork(parent);
    k.exit(c);
  }
}

// Roots on the pgd list that no running process uses and that are not pinned: what
// xen_mm_pin_all has to pin.
uint64_t unpinned_roots(guest::Kernel& k) {
  uint64_t n = 0;
  for (const auto& [root, kind] : k.core().pgd_list()) {
    if (!k.core().pages().page(root).pinned) ++n;
  }
  return n;
}

TEST(SaveRestore, TheGuestRunsOnInTheRestoredDomainWithItsMemoryAndTables) {
  test::GuestFixture fx(config("baseline"));
  auto& k = fx.k();
  const Pid a = writer(k, 0);
  const Pid b = writer(k, 1);
  const DomId before = fx.sys().hypervisor()->domain_ids().back();

  const xen::SaveRestoreResult r = fx.sys().save_restore();
  ASSERT_EQ(r.rc, 0) << r.what;
  EXPECT_NE(r.domain, before);
  EXPECT_EQ(r.pages, 8192u);
  EXPECT_GT(r.page_tables, 10u);
  EXPECT_GT(r.pinned, 2u);  // the kernel's L4, the vsyscall L3, both processes' trees
  EXPECT_TRUE(fx.sys().hypervisor()->domain(before).dying);

  // What the processes wrote is there; the kernel can build and tear down address spaces.
  EXPECT_EQ(k.load(a, k.mm(a).stack_top - 64), kHeapValue);
  EXPECT_EQ(k.load(b, k.mm(b).stack_top - 64), kHeapValue + 1);
  churn(k, a, 3);
  k.exec(b, guest::builtin_image("tiny-static"));
  k.run_startup(b, guest::builtin_image("tiny-static"));
  EXPECT_TRUE(fx.sys().audit().empty()) << fx.sys().audit().front();
}

TEST(SaveRestore, EveryCachedRootIsPinnedForTheSaveAndIsUsableAfterIt) {
  for (const char* policy : {"pibooster", "pibooster-2016", "linux-quicklist",
                             "xenolinux-quicklist", "pibooster-plus"}) {
    SCOPED_TRACE(policy);
    test::GuestFixture fx(config(policy, xen::IommuMode::kSync));
    auto& k = fx.k();
    const Pid a = writer(k, 0);
    churn(k, a, 6);
    k.quiesce();  // grace periods end: freed tables are in their caches
    const uint64_t to_pin = unpinned_roots(k);
    const auto& ops = static_cast<const guest::XenPvOps&>(k.core().ops());

    const xen::SaveRestoreResult r = fx.sys().save_restore();
    ASSERT_EQ(r.rc, 0) << r.what;
    EXPECT_EQ(ops.suspend_counts().save_pinned, to_pin);
    EXPECT_EQ(unpinned_roots(k), to_pin);  // unpinned again after the resume
    // Every cached table is handed out again and validated against the new domain's frames.
    churn(k, a, 12);
    EXPECT_EQ(k.load(a, k.mm(a).stack_top - 64), kHeapValue);
    EXPECT_TRUE(fx.sys().audit().empty()) << fx.sys().audit().front();
  }
}

TEST(SaveRestore, PiBoostersPoolIsRegisteredAgainInTheNewDomain) {
  test::GuestFixture fx(config("pibooster", xen::IommuMode::kSync));
  auto& k = fx.k();
  const Pid a = writer(k, 0);
  churn(k, a, 6);
  k.quiesce();
  const auto& ops = static_cast<const guest::XenPvOps&>(k.core().ops());
  uint64_t pooled = 0;
  for (uint64_t pfn = 0; pfn < 8192; ++pfn) pooled += k.core().pages().page(Pfn{pfn}).dma_pooled;
  ASSERT_GT(pooled, 0u);

  ASSERT_EQ(fx.sys().save_restore().rc, 0);
  EXPECT_EQ(ops.suspend_counts().pool_re_added, pooled);
  // Xen has each of them in the new domain's pool: out of reach of DMA.
  const xen::FrameTable& frames = fx.sys().hypervisor()->frame_table();
  for (uint64_t pfn = 0; pfn < 8192; ++pfn) {
    if (!k.core().pages().page(Pfn{pfn}).dma_pooled) continue;
    EXPECT_TRUE(frames[ops.pfn_to_mfn(Pfn{pfn})].dma_revoked) << "pfn " << pfn;
  }
  churn(k, a, 6);
  EXPECT_TRUE(fx.sys().audit().empty()) << fx.sys().audit().front();
}

// A cache that keeps freed pgds constructed but takes them off the pgd list while it holds
// them: the rule the real caches follow, broken.
class ForgetfulPgdCache final : public guest::PtPageSource {
 public:
  explicit ForgetfulPgdCache(guest::KernelCore& core) : core_(core) {}
  std::string_view name() const override { return "forgetful"; }
  Pfn alloc(TableKind kind, const guest::Mm& /*mm*/) override {
    if (kind == TableKind::kPgd && !pgds_.empty()) {
      const Pfn p = pgds_.back();
      pgds_.pop_back();
      core_.pgd_list_add(p, kind);
      return p;
    }
    const Pfn p = core_.alloc_page(true);
    if (kind == TableKind::kPgd) guest::construct_table(core_, p, kind);
    return p;
  }
  void free(Pfn pfn, TableKind kind) override {
    if (kind == TableKind::kPgd) {
      guest::destruct_table(core_, pfn, kind);  // the bug: off the list, still constructed
      pgds_.push_back(pfn);
      return;
    }
    core_.pages().page(pfn).pt_level = guest::PtLevel::kNone;
    core_.pages().free(pfn);
  }
  bool constructed(TableKind kind) const override { return kind == TableKind::kPgd; }

 private:
  guest::KernelCore& core_;
  std::vector<Pfn> pgds_;
};

TEST(SaveRestore, APgdKeptOffThePgdListComesBackWithTheOldFramesAndItsPinIsRefused) {
  test::GuestFixture fx(config("baseline"));
  auto& k = fx.k();
  k.core().set_pt_page_source(std::make_unique<ForgetfulPgdCache>(k.core()));
  const Pid a = writer(k, 0);
  churn(k, a, 1);  // one pgd waits in the cache, off the list
  ASSERT_EQ(fx.sys().save_restore().rc, 0);
  // The next fork gets that pgd: its kernel half names frames of the old, destroyed domain.
  EXPECT_THROW(k.fork(a), ModelBug);
}

TEST(SaveRestore, WhatTheToolstackRefusesLeavesTheGuestRunningInItsOldDomain) {
  {
    SCOPED_TRACE("no room for the copy");
    test::GuestFixture fx(config("pibooster", xen::IommuMode::kNone, false));
    auto& k = fx.k();
    const Pid a = writer(k, 0);
    churn(k, a, 3);
    const xen::SaveRestoreResult r = fx.sys().save_restore();
    EXPECT_EQ(r.rc, abi::err::kENOMEM);
    EXPECT_NE(r.what.find("no room"), std::string::npos) << r.what;
    EXPECT_EQ(fx.sys().hypervisor()->domain_ids().size(), 2u);  // the copy was made and dropped
    EXPECT_FALSE(fx.sys().hypervisor()->domain(0).shutdown_reason);
    churn(k, a, 3);
    EXPECT_EQ(k.load(a, k.mm(a).stack_top - 64), kHeapValue);
    EXPECT_TRUE(fx.sys().audit().empty()) << fx.sys().audit().front();
  }
  {
    SCOPED_TRACE("a device assigned");
    system::GuestSystemConfig c = config("pibooster", xen::IommuMode::kSync);
    c.nic = true;
    test::GuestFixture fx(c);
    const Pid a = writer(fx.k(), 0);
    const xen::SaveRestoreResult r = fx.sys().save_restore();
    EXPECT_EQ(r.rc, abi::err::kEBUSY);
    churn(fx.k(), a, 2);
    EXPECT_TRUE(fx.sys().audit().empty()) << fx.sys().audit().front();
  }
  {
    SCOPED_TRACE("not suspended");
    test::GuestFixture fx(config("baseline"));
    xen::Hypervisor& xen = *fx.sys().hypervisor();
    const xen::SaveRestoreResult r = xen::save_restore_local(xen, 0);
    EXPECT_EQ(r.rc, abi::err::kEINVAL);
    EXPECT_EQ(xen.domain_ids().size(), 1u);
    EXPECT_EQ(xen.resume_domain(0), abi::err::kEINVAL);  // nothing to resume
  }
}

// Roots a source holds ready (its held() report: "pgd", "user_pgd", "pinned_pgd", ...).
uint64_t cached_roots(guest::Kernel& k) {
  uint64_t n = 0;
  for (const auto& [what, count] : k.core().pt_pages().held()) {
    if (what.ends_with("pgd")) n += count;
  }
  return n;
}

TEST(PgdList, HoldsEveryConstructedRootWhetherAProcessOrACacheHasIt) {
  for (const char* policy : {"baseline", "pibooster", "linux-quicklist", "xenolinux-quicklist"}) {
    SCOPED_TRACE(policy);
    test::GuestFixture fx(config(policy));
    auto& k = fx.k();
    const Pid a = writer(k, 0);
    const Pid c = k.fork(a);
    for (const Pid p : {a, c}) {
      const auto& list = k.core().pgd_list();
      EXPECT_EQ(list.at(k.mm(p).pgd), TableKind::kPgd);
      EXPECT_EQ(list.at(k.mm(p).user_pgd), TableKind::kUserPgd);
    }
    // Each process: its kernel pgd and its user pgd; the rest are the source's.
    EXPECT_EQ(k.core().pgd_list().size(), 4 + cached_roots(k));
    k.exit(c);
    k.quiesce();  // grace periods end: what the exit freed is in the cache or given back
    EXPECT_EQ(k.core().pgd_list().size(), 2 + cached_roots(k));
    if (std::string(policy) == "baseline") {
      EXPECT_EQ(cached_roots(k), 0u);
    } else {
      EXPECT_GT(cached_roots(k), 0u);
    }
  }
}

}  // namespace
}  // namespace pib
