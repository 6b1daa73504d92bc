// SPDX-License-Identifier: MIT
// Attacks on PiBooster's new interface (the hypervisor's page-table pool) and on its cache:
// each is refused and leaves the state consistent (auditor clean).
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "pibooster/guest/pt_cache.hpp"
#include "policies/policy_table.hpp"
#include "support/guest_fixture.hpp"
#include "xen/domain_builder.hpp"

namespace pib {
namespace {

using guest::Pid;

system::GuestSystemConfig pb_config() {
  system::GuestSystemConfig c;
  c.guest_pages = 8192;
  c.iommu = xen::IommuMode::kSync;
  policies::apply_policy("pibooster", c);
  c.nic = true;
  return c;
}

class PiBoosterAttacks : public ::testing::Test {
 protected:
  PiBoosterAttacks() : fx_(pb_config()) {
    xen_ = fx_.sys().hypervisor();
    const auto img = guest::builtin_image("lmbench-hello");
    p_ = fx_.k().spawn(img);
    fx_.k().run_startup(p_, img);
  }
  int64_t pool(uint32_t cmd, Mfn mfn) {
    // The process ran last: the vCPU is in user mode, where hypercalls are not served. The
    // calls below are the guest kernel's, made after a syscall entry.
    fx_.k().core().ops().enter_kernel(0);
    const abi::MmuextOp op{cmd, mfn.value, 0};
    uint32_t done = 0;
    return xen_->mmuext_op(0, std::span<const abi::MmuextOp>(&op, 1), &done, abi::kDomidSelf);
  }
  // An L1 table the process is using right now.
  Mfn live_l1() {
    const auto& ft = xen_->frame_table();
    for (uint64_t m = 0; m < ft.size(); ++m) {
      const auto& pg = ft[Mfn{m}];
      if (pg.owner == 0 && pg.type == xen::PageType::kL1 && pg.type_count > 0 && pg.dma_revoked) {
        return Mfn{m};
      }
    }
    return kInvalidMfn;
  }
  pibooster::PageTableCache& cache() {
    return dynamic_cast<pibooster::PageTableCache&>(fx_.sys().pt_pages());
  }
  void expect_clean() { EXPECT_EQ(fx_.sys().audit(), std::vector<std::string>{}); }
  test::GuestFixture fx_;
  xen::Hypervisor* xen_ = nullptr;
  Pid p_ = 0;
};

TEST_F(PiBoosterAttacks, RestoringDmaToALivePageTableIsRefused) {
  const Mfn l1 = live_l1();
  ASSERT_NE(l1, kInvalidMfn);
  EXPECT_EQ(pool(abi::kMmuextPtPoolRemove, l1), abi::err::kEBUSY);
  EXPECT_TRUE(xen_->frame_table()[l1].dma_revoked);
  EXPECT_EQ(xen_->iommu_entry(xen_->domain(0), l1), 0u);
  expect_clean();
}

TEST_F(PiBoosterAttacks, PoolingOrRecyclingFramesTheGuestDoesNotOwnIsRefused) {
  const abi::StartInfo other =
      xen::build_pv_domain(*xen_, xen::PvDomainSpec{64, 1, false, xen::IommuMode::kSync});
  xen_->set_port_domain(0);
  const Mfn theirs = other.p2m.back();
  EXPECT_EQ(pool(abi::kMmuextPtPoolAdd, theirs), abi::err::kEPERM);
  EXPECT_EQ(pool(abi::kMmuextPtPoolRemove, theirs), abi::err::kEPERM);
  EXPECT_EQ(pool(abi::kMmuextPtPoolAdd, xen_->xen_l3()), abi::err::kEPERM);
  EXPECT_EQ(pool(abi::kMmuextPtPoolAdd, Mfn{~uint64_t{0} >> 12}), abi::err::kEINVAL);
  EXPECT_FALSE(xen_->frame_table()[theirs].dma_revoked);
  expect_clean();
}

TEST_F(PiBoosterAttacks, DoubleInsertAndDoubleRemoveAreRefused) {
  auto& k = fx_.k();
  const Pfn page = k.core().pages().alloc(0);
  const Mfn mfn = static_cast<const guest::XenPvOps&>(k.core().ops()).pfn_to_mfn(page);
  EXPECT_EQ(pool(abi::kMmuextPtPoolAdd, mfn), abi::err::kOk);
  EXPECT_EQ(pool(abi::kMmuextPtPoolAdd, mfn), abi::err::kEEXIST);
  EXPECT_EQ(pool(abi::kMmuextPtPoolRemove, mfn), abi::err::kOk);
  EXPECT_EQ(pool(abi::kMmuextPtPoolRemove, mfn), abi::err::kENOENT);
  EXPECT_NE(xen_->iommu_entry(xen_->domain(0), mfn) & hw::iopte::kWrite, 0u);  // DMA back
  expect_clean();
}

TEST_F(PiBoosterAttacks, DevicesCannotReachPooledFrames) {
  // Cached page-table pages (free ones included) are out of the IOMMU while pooled.
  auto& k = fx_.k();
  k.enter_interrupt(0);  // kernel context for the cache's own accesses
  ASSERT_GT(cache().held(guest::TableKind::kL1), 0u);
  const Pfn cached = cache().alloc(guest::TableKind::kL1, k.core().init_mm());
  const Mfn mfn = static_cast<const guest::XenPvOps&>(k.core().ops()).pfn_to_mfn(cached);
  auto* iommu = fx_.sys().machine().iommu();
  EXPECT_FALSE(iommu->dma_u64(system::kNicDevice, mfn.value << 12, true, 0x1234).ok);
  EXPECT_EQ(fx_.sys().machine().memory().read_u64(Maddr{mfn.value << 12}), 0u);
  cache().free(cached, guest::TableKind::kL1);
  expect_clean();
}

TEST_F(PiBoosterAttacks, ACachedTableWithStaleEntriesIsClearedBeforeReuse) {
  auto& k = fx_.k();
  pibooster::PageTableCache& cache = this->cache();
  k.enter_interrupt(0);
  const Pfn t = cache.alloc(guest::TableKind::kL1, k.core().init_mm());
  // Somebody frees a table that still maps a page (a bug, or an attack on the next owner).
  k.core().write_entry_native(guest::EntryRef{t, 7}, k.core().ops().make_entry(Pfn{100}, 0x67));
  const auto d = fx_.measure([&] { cache.free(t, guest::TableKind::kL1); });
  EXPECT_EQ(d[sim::Event::kGuestPtCacheDirty], 1u);
  const Pfn again = cache.alloc(guest::TableKind::kL1, k.core().init_mm());
  EXPECT_EQ(again, t);
  EXPECT_TRUE(k.core().page_words_zero(again, 512));
  cache.free(again, guest::TableKind::kL1);
  expect_clean();
}

TEST_F(PiBoosterAttacks, APooledFrameCannotBeFreedToTheAllocator) {
  auto& k = fx_.k();
  k.enter_interrupt(0);
  const Pfn t = cache().alloc(guest::TableKind::kL2, k.core().init_mm());
  EXPECT_THROW(k.core().pages().free(t), ModelBug);  // it must leave the pool first
  cache().free(t, guest::TableKind::kL2);
  expect_clean();
}

TEST_F(PiBoosterAttacks, ForkAndExitStayConsistentAcrossManyCycles) {
  auto& k = fx_.k();
  for (int i = 0; i < 20; ++i) {
    const Pid c = k.fork(p_);
    ASSERT_TRUE(k.store(c, k.mm(c).stack_top - 64, 1));
    k.exit(c);
    k.schedule(p_);
  }
  expect_clean();
}

}  // namespace
}  // namespace pib
