// SPDX-License-Identifier: MIT
// Xen's IOMMU synchronisation for a PV guest (xen-pv-mmu.md A3, C): per page-table page life
// one unmap with one page-selective invalidation when it becomes a table, one map when it is
// writable again (invalidated only with caching mode); nothing at all without sync; a device
// can never write a page table or another domain's memory.
#include <gtest/gtest.h>

#include "support/guest_fixture.hpp"
#include "xen/domain_builder.hpp"

namespace pib {
namespace {

using guest::Pid;
using sim::Event;
using test::GuestFixture;

system::GuestSystemConfig config(xen::IommuMode mode, bool caching_mode, xen::XenGeneration gen) {
  system::GuestSystemConfig c;
  c.guest_pages = 8192;
  c.iommu = mode;
  c.iommu_params.caching_mode = caching_mode;
  c.xen_generation = gen;
  return c;
}

struct Case {
  xen::XenGeneration gen;
  bool cm;
};

class IommuLifeCycle : public ::testing::TestWithParam<Case> {
 protected:
  IommuLifeCycle() : fx_(config(xen::IommuMode::kSync, GetParam().cm, GetParam().gen)) {
    const auto img = guest::builtin_image("lmbench-hello");
    p_ = fx_.k().spawn(img);
    fx_.k().run_startup(p_, img);
  }
  GuestFixture fx_;
  Pid p_ = 0;
};

TEST_P(IommuLifeCycle, ATablePageIsUnmappedWithOneInvalidationAndMappedBackLater) {
  auto& k = fx_.k();
  const uint64_t a = 0x400000000000ULL;
  auto req = guest::MapRequest::anonymous(kPageSize);
  req.fixed_address = a;
  k.mmap(p_, req);
  // First touch builds L3, L2 and L1: three frames become page tables.
  const auto in = fx_.measure([&] { ASSERT_TRUE(k.store(p_, a, 1)); });
  EXPECT_EQ(in[Event::kHwIommuUnmap], 3u);
  EXPECT_EQ(in[Event::kHwIotlbInvPage], 3u);  // the unmaps; nothing was mapped
  EXPECT_EQ(in[Event::kHwIommuMap], 0u);
  // munmap frees the three tables: each RW remap re-types the frame writable: a map each,
  // invalidated only when the IOMMU caches not-present entries.
  const auto out = fx_.measure([&] { k.munmap(p_, a, kPageSize); });
  EXPECT_EQ(out[Event::kHwIommuMap], 3u);
  EXPECT_EQ(out[Event::kHwIommuUnmap], 0u);
  EXPECT_EQ(out[Event::kHwIotlbInvPage], GetParam().cm ? 3u : 0u);
  EXPECT_EQ(fx_.sys().audit(), std::vector<std::string>{});
}

TEST_P(IommuLifeCycle, ForkAndExitInvalidateOncePerTablePage) {
  auto& k = fx_.k();
  Pid c = 0;
  const auto d = fx_.measure([&] {
    c = k.fork(p_);
    k.exit(c);
    k.schedule(p_);
  });
  // C3 + C2 + C1 + 2 frames become page tables at the pin and writable again at exit.
  const uint64_t tables = d[Event::kXenTypeChangeToPt];
  EXPECT_EQ(tables, k.mm(p_).pt_pages_below_pgd() + 2);
  EXPECT_EQ(d[Event::kHwIommuUnmap], tables);
  EXPECT_EQ(d[Event::kHwIommuMap], d[Event::kXenTypeChangeToWritable]);
  EXPECT_EQ(d[Event::kHwIotlbInvPage],
            tables + (GetParam().cm ? d[Event::kXenTypeChangeToWritable] : 0));
  EXPECT_EQ(d[Event::kHwIotlbInvDomain] + d[Event::kHwIotlbInvGlobal], 0u);
  EXPECT_EQ(d[Event::kHwIommuInvWait], d[Event::kHwIotlbInvPage]);  // never batched
  EXPECT_EQ(fx_.sys().audit(), std::vector<std::string>{});
}

INSTANTIATE_TEST_SUITE_P(Generations, IommuLifeCycle,
                         ::testing::Values(Case{xen::XenGeneration::kModern, false},
                                           Case{xen::XenGeneration::kModern, true},
                                           Case{xen::XenGeneration::kPaperEra, false},
                                           Case{xen::XenGeneration::kPaperEra, true}),
                         [](const auto& param_info) {
                           return std::string(param_info.param.gen == xen::XenGeneration::kModern
                                                  ? "modern"
                                                  : "paper_era") +
                                  (param_info.param.cm ? "_cm_on" : "_cm_off");
                         });

TEST(IommuModes, NoSyncMeansNoIommuWork) {
  for (const auto mode : {xen::IommuMode::kNone, xen::IommuMode::kRelaxed}) {
    GuestFixture fx(config(mode, true, xen::XenGeneration::kModern));
    auto& k = fx.k();
    const auto img = guest::builtin_image("lmbench-hello");
    const Pid p = k.spawn(img);
    k.run_startup(p, img);
    const auto d = fx.measure([&] {
      const Pid c = k.fork(p);
      k.exit(c);
      k.schedule(p);
    });
    for (const Event e : {Event::kHwIommuMap, Event::kHwIommuUnmap, Event::kHwIotlbInvPage,
                          Event::kHwIotlbInvDomain, Event::kHwIotlbInvGlobal}) {
      EXPECT_EQ(d[e], 0u) << sim::event_name(e);
    }
    EXPECT_GT(d[Event::kXenTypeChangeToPt], 0u);  // the same type changes happened
  }
}

TEST(IommuGenerations, PaperEraLeavesNeverWritableTablesDmaWritable) {
  // XSA-288: before the fix a frame that went straight from no type to a page table (the
  // builder's initial tables) stayed in the IOMMU; after it, only writable frames are mapped.
  for (const auto gen : {xen::XenGeneration::kPaperEra, xen::XenGeneration::kModern}) {
    GuestFixture fx(config(xen::IommuMode::kSync, false, gen));
    const xen::Hypervisor& x = *fx.sys().hypervisor();
    const Mfn boot_l4 = x.domain(0).vcpus[0].guest_table;
    EXPECT_EQ(x.iommu_entry(x.domain(0), boot_l4) != 0, gen == xen::XenGeneration::kPaperEra);
    EXPECT_EQ(fx.sys().audit(), std::vector<std::string>{});
  }
}

class DmaAttacks : public ::testing::Test {
 protected:
  DmaAttacks() : fx_(config(xen::IommuMode::kSync, false, xen::XenGeneration::kModern)) {
    xen_ = fx_.sys().hypervisor();
    xen_->assign_device(0, kNic);
    const auto img = guest::builtin_image("lmbench-hello");
    p_ = fx_.k().spawn(img);
    fx_.k().run_startup(p_, img);
  }
  hw::Iommu& iommu() { return *fx_.sys().machine().iommu(); }
  static constexpr uint16_t kNic = 0x100;
  GuestFixture fx_;
  xen::Hypervisor* xen_ = nullptr;
  Pid p_ = 0;
};

TEST_F(DmaAttacks, ADeviceCannotWriteAPageTableInUse) {
  auto& k = fx_.k();
  const uint64_t stack = k.mm(p_).stack_top - kPageSize;
  ASSERT_TRUE(k.store(p_, stack, 7));
  // The L1 table that maps the stack, found through the process's own tables.
  const hw::Pte pte = k.pte_of(p_, stack);
  const Mfn data = pte.mfn();
  Mfn l1 = kInvalidMfn;
  const auto& ft = xen_->frame_table();
  for (uint64_t m = 0; m < ft.size(); ++m) {
    const auto& pg = ft[Mfn{m}];
    if (pg.owner != 0 || pg.type != xen::PageType::kL1 || pg.type_count == 0) continue;
    for (uint64_t i = 0; i < kEntriesPerTable; ++i) {
      if (fx_.sys().machine().memory().read_entry(Mfn{m}, i) == pte.raw()) l1 = Mfn{m};
    }
  }
  ASSERT_NE(l1, kInvalidMfn);
  const uint64_t before = fx_.sys().machine().memory().read_entry(l1, 0);
  // A malicious guest programs the NIC to DMA a forged entry into its own L1.
  const auto r = iommu().dma_u64(kNic, (l1.value << 12), true, (data.value << 12) | 0x67);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(fx_.sys().machine().memory().read_entry(l1, 0), before);
  EXPECT_EQ(iommu().fault_log().back().reason, "not mapped");
  // Its data page is DMA-writable, as it should be.
  EXPECT_TRUE(iommu().dma_u64(kNic, (data.value << 12) + 8, true, 99).ok);
  EXPECT_EQ(k.load(p_, stack + 8), 99u);
  EXPECT_EQ(fx_.sys().audit(), std::vector<std::string>{});
}

TEST_F(DmaAttacks, ADeviceCannotReachAnotherDomainsMemory) {
  // A second guest on the same machine.
  const abi::StartInfo other =
      xen::build_pv_domain(*xen_, xen::PvDomainSpec{64, 1, false, xen::IommuMode::kSync});
  xen_->set_port_domain(0);
  const Mfn victim = other.p2m.back();
  const uint64_t before = fx_.sys().machine().memory().read_u64(Maddr{victim.value << 12});
  EXPECT_FALSE(iommu().dma_u64(kNic, victim.value << 12, true, 0xbad).ok);
  EXPECT_EQ(fx_.sys().machine().memory().read_u64(Maddr{victim.value << 12}), before);
  EXPECT_FALSE(iommu().dma_page(kNic, victim.value << 12, false).ok);
  // Nor Xen's own frames (its L3, the I/O page tables).
  EXPECT_FALSE(iommu().dma_u64(kNic, xen_->xen_l3().value << 12, true, 1).ok);
  EXPECT_FALSE(iommu().dma_u64(kNic, xen_->domain(0).iommu_root.value << 12, true, 1).ok);
  EXPECT_EQ(fx_.sys().audit(), std::vector<std::string>{});
}

TEST_F(DmaAttacks, AFrameBecomingATableLeavesTheIotlbToo) {
  // The device has the frame cached as writable; when the guest turns it into a page table,
  // Xen's synchronous invalidation removes the cached translation before the hypercall returns.
  auto& k = fx_.k();
  const uint64_t a = 0x400000000000ULL;
  auto req = guest::MapRequest::anonymous(kPageSize);
  req.fixed_address = a;
  k.mmap(p_, req);
  // Next free frame the guest allocator will hand out becomes the L3 of this area.
  const Pfn next = k.core().pages().alloc(0);
  k.core().pages().free(next);
  const Mfn mfn = static_cast<const guest::XenPvOps&>(k.core().ops()).pfn_to_mfn(next);
  ASSERT_TRUE(iommu().dma_u64(kNic, mfn.value << 12, true, 0).ok);  // cached in the IOTLB
  ASSERT_TRUE(k.store(p_, a, 1));
  EXPECT_EQ(xen_->frame_table()[mfn].type, xen::PageType::kL3);
  EXPECT_FALSE(iommu().dma_u64(kNic, mfn.value << 12, true, 0x1234).ok);
  EXPECT_EQ(fx_.sys().audit(), std::vector<std::string>{});
}

}  // namespace
}  // namespace pib
