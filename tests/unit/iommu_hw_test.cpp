// SPDX-License-Identifier: MIT
// The IOMMU hardware model on its own: translation through I/O page tables written in memory,
// IOTLB hits and LRU eviction, invalidation scopes, caching mode, blocked DMA.
#include <gtest/gtest.h>

#include "hw/iommu.hpp"

namespace pib::hw {
namespace {

struct IommuHw : ::testing::Test {
  sim::Ledger ledger;
  MachineMemory mem{256, ledger};
  // I/O tables for domain 7 in frames 1..4 (root 1); data frames from 16 up.
  Mfn root{1};
  void link() {
    mem.write_entry(Mfn{1}, 0, (2ULL << 12) | iopte::kRead | iopte::kWrite);
    mem.write_entry(Mfn{2}, 0, (3ULL << 12) | iopte::kRead | iopte::kWrite);
    mem.write_entry(Mfn{3}, 0, (4ULL << 12) | iopte::kRead | iopte::kWrite);
  }
  void map(uint64_t page, Mfn target, bool writable) {
    mem.write_entry(Mfn{4}, page,
                    (target.value << 12) | iopte::kRead | (writable ? iopte::kWrite : 0));
  }
  uint64_t count(sim::Event e) const { return ledger.count(e); }
};

TEST_F(IommuHw, TranslatesThroughTheTablesAndCachesInTheIotlb) {
  Iommu io(mem, ledger, IommuParams{});
  link();
  map(5, Mfn{20}, true);
  io.set_context(3, 7, root);
  EXPECT_TRUE(io.dma_u64(3, 5 * 4096 + 8, true, 0xabc).ok);
  EXPECT_EQ(mem.read_u64(Maddr{20 * 4096 + 8}), 0xabcu);
  EXPECT_EQ(count(sim::Event::kHwIotlbMiss), 1u);
  EXPECT_EQ(io.dma_u64(3, 5 * 4096 + 8, false).value, 0xabcu);
  EXPECT_EQ(count(sim::Event::kHwIotlbHit), 1u);
}

// Context entries live in per-bus context tables: a device's entry is its own, whatever bus
// (device >> 8) and function (device & 0xff) it has, and clearing one leaves the others.
TEST_F(IommuHw, ContextEntriesAreSeparatePerBusAndFunction) {
  Iommu io(mem, ledger, IommuParams{});
  link();
  map(5, Mfn{20}, true);
  io.set_context(0x0103, 7, root);
  io.set_context(0xff03, 7, root);
  EXPECT_TRUE(io.translates(0x0103));
  EXPECT_TRUE(io.translates(0xff03));
  EXPECT_FALSE(io.translates(0x0104));  // same bus, other function
  EXPECT_FALSE(io.translates(0x0203));  // same function, other bus
  EXPECT_FALSE(io.translates(0x0003));
  io.clear_context(0x0103);
  io.clear_context(0x4242);  // a bus without a context table: nothing to clear
  EXPECT_FALSE(io.translates(0x0103));
  EXPECT_TRUE(io.translates(0xff03));
  EXPECT_TRUE(io.dma_u64(0xff03, 5 * 4096, true, 1).ok);
  // Without a context the IOMMU is bypassed: the address is the machine address.
  EXPECT_TRUE(io.dma_u64(0x0103, 30 * 4096, true, 9).ok);
  EXPECT_EQ(mem.read_u64(Maddr{30 * 4096}), 9u);
}

TEST_F(IommuHw, BlockedDmaWritesNothingAndIsLogged) {
  Iommu io(mem, ledger, IommuParams{});
  link();
  map(5, Mfn{20}, false);
  io.set_context(3, 7, root);
  mem.write_u64(Maddr{20 * 4096}, 42);
  EXPECT_FALSE(io.dma_u64(3, 5 * 4096, true, 1).ok);  // read-only
  EXPECT_FALSE(io.dma_u64(3, 6 * 4096, true, 1).ok);  // not mapped
  EXPECT_EQ(mem.read_u64(Maddr{20 * 4096}), 42u);
  ASSERT_EQ(io.fault_log().size(), 2u);
  EXPECT_EQ(io.fault_log()[0].reason, "write to a read-only mapping");
  EXPECT_EQ(count(sim::Event::kHwIommuFault), 2u);
}

TEST_F(IommuHw, StaleIotlbEntriesNeedAnInvalidation) {
  Iommu io(mem, ledger, IommuParams{});
  link();
  map(5, Mfn{20}, true);
  io.set_context(3, 7, root);
  ASSERT_TRUE(io.dma_u64(3, 5 * 4096, true, 1).ok);
  mem.write_entry(Mfn{4}, 5, 0);                     // software unmaps but does not invalidate
  EXPECT_TRUE(io.dma_u64(3, 5 * 4096, true, 2).ok);  // the IOTLB still translates
  io.submit({InvalidationScope::kPage, 7, 5 * 4096, 0});
  io.wait();
  EXPECT_FALSE(io.dma_u64(3, 5 * 4096, true, 3).ok);
  EXPECT_EQ(count(sim::Event::kHwIotlbInvPage), 1u);
}

TEST_F(IommuHw, InvalidationScopes) {
  Iommu io(mem, ledger, IommuParams{});
  link();
  for (uint64_t p = 0; p < 8; ++p) map(p, Mfn{16 + p}, true);
  io.set_context(3, 7, root);
  for (uint64_t p = 0; p < 8; ++p) io.dma_u64(3, p * 4096, false);
  io.submit({InvalidationScope::kPage, 7, 4 * 4096, 2});  // pages 4..7
  io.wait();
  EXPECT_TRUE(io.cached_entry(7, 3 * 4096).has_value());
  EXPECT_FALSE(io.cached_entry(7, 5 * 4096).has_value());
  io.submit({InvalidationScope::kDomain, 8, 0, 0});  // another domain: nothing
  io.wait();
  EXPECT_TRUE(io.cached_entry(7, 0).has_value());
  io.submit({InvalidationScope::kGlobal, 0, 0, 0});
  io.wait();
  EXPECT_EQ(io.iotlb_occupancy(), 0u);
}

TEST_F(IommuHw, CachingModeCachesNotPresentResults) {
  for (const bool cm : {false, true}) {
    sim::Ledger l;
    MachineMemory m{256, l};
    m.write_entry(Mfn{1}, 0, (2ULL << 12) | 3);
    m.write_entry(Mfn{2}, 0, (3ULL << 12) | 3);
    m.write_entry(Mfn{3}, 0, (4ULL << 12) | 3);
    Iommu io(m, l, IommuParams{64, 4, cm});
    io.set_context(3, 7, Mfn{1});
    EXPECT_FALSE(io.dma_u64(3, 9 * 4096, true, 1).ok);  // not yet mapped
    m.write_entry(Mfn{4}, 9, (30ULL << 12) | 3);        // mapped, no invalidation
    // Without caching mode the miss was not cached and the DMA now works; with it, the stale
    // not-present entry blocks it until software invalidates.
    EXPECT_EQ(io.dma_u64(3, 9 * 4096, true, 1).ok, !cm) << "caching mode " << cm;
  }
}

TEST_F(IommuHw, IotlbEvictsLeastRecentlyUsedWithinASet) {
  Iommu io(mem, ledger, IommuParams{8, 2, false});  // 4 sets of 2
  link();
  for (uint64_t p = 0; p < 16; ++p) map(p, Mfn{16 + p}, true);
  io.set_context(3, 7, root);
  io.dma_u64(3, 0, false);         // set 0
  io.dma_u64(3, 4 * 4096, false);  // set 0
  io.dma_u64(3, 0, false);         // touch page 0
  io.dma_u64(3, 8 * 4096, false);  // set 0: evicts page 4
  EXPECT_TRUE(io.cached_entry(7, 0).has_value());
  EXPECT_FALSE(io.cached_entry(7, 4 * 4096).has_value());
}

TEST_F(IommuHw, DevicesWithoutAContextAreNotTranslated) {
  Iommu io(mem, ledger, IommuParams{});
  EXPECT_TRUE(io.dma_u64(9, 20 * 4096, true, 5).ok);
  EXPECT_EQ(mem.read_u64(Maddr{20 * 4096}), 5u);
  EXPECT_EQ(count(sim::Event::kHwIotlbMiss), 0u);
}

// Superpage leaves (PS at level 2 or 3): a machine big enough for a 2 MiB block at frames
// 512..1023, I/O tables in frames 1..3 (root 1, level 3 in 2, level 2 in 3).
struct IommuHwSuperpages : ::testing::Test {
  sim::Ledger ledger;
  MachineMemory mem{1024, ledger};
  Mfn root{1};
  static constexpr uint64_t kBlock = 2ULL << 20;  // I/O address of the block (and its frames)
  void map_2mib(uint64_t flags = iopte::kRead | iopte::kWrite) {
    mem.write_entry(Mfn{1}, 0, (2ULL << 12) | iopte::kRead | iopte::kWrite);
    mem.write_entry(Mfn{2}, 0, (3ULL << 12) | iopte::kRead | iopte::kWrite);
    mem.write_entry(Mfn{3}, 1, (512ULL << 12) | flags | iopte::kSuperpage);
  }
  uint64_t count(sim::Event e) const { return ledger.count(e); }
};

TEST_F(IommuHwSuperpages, TranslatesEveryPageOfTheBlockThroughOneCachedEntry) {
  Iommu io(mem, ledger, IommuParams{});
  map_2mib();
  io.set_context(3, 7, root);
  const DmaResult w = io.dma_u64(3, kBlock + 5 * 4096 + 8, true, 0x77);
  ASSERT_TRUE(w.ok);
  EXPECT_EQ(w.mfn->value, 517u);
  EXPECT_EQ(mem.read_u64(Maddr{517 * 4096 + 8}), 0x77u);
  const DmaResult r = io.dma_u64(3, kBlock + 511 * 4096, false);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.mfn->value, 1023u);
  EXPECT_EQ(count(sim::Event::kHwIotlbMiss), 1u) << "one walk serves the whole block";
  EXPECT_EQ(count(sim::Event::kHwIotlbHit), 1u);
  const auto cached = io.cached_translations();
  ASSERT_EQ(cached.size(), 1u);
  EXPECT_EQ(cached[0].pages, 512u);
  EXPECT_EQ(cached[0].iova_page, 512u);
}

TEST_F(IommuHwSuperpages, APageSelectiveInvalidationInsideTheBlockEvictsTheSuperpage) {
  Iommu io(mem, ledger, IommuParams{});
  map_2mib();
  io.set_context(3, 7, root);
  ASSERT_TRUE(io.dma_u64(3, kBlock, false).ok);
  io.submit(InvalidationDescriptor{InvalidationScope::kPage, 7, kBlock + 100 * 4096, 0});
  io.wait();
  EXPECT_EQ(io.iotlb_occupancy(), 0u);
  io.submit(InvalidationDescriptor{InvalidationScope::kPage, 7, kBlock + 512 * 4096, 0});
  ASSERT_TRUE(io.dma_u64(3, kBlock, false).ok);
  io.wait();
  EXPECT_EQ(io.iotlb_occupancy(), 1u) << "a page outside the block leaves it cached";
}

TEST_F(IommuHwSuperpages, ADomainSelectiveInvalidationEvictsSuperpagesAndPages) {
  Iommu io(mem, ledger, IommuParams{});
  map_2mib();
  mem.write_entry(Mfn{3}, 0, (4ULL << 12) | iopte::kRead | iopte::kWrite);  // L1 for block 0
  mem.write_entry(Mfn{4}, 20, (20ULL << 12) | iopte::kRead | iopte::kWrite);
  io.set_context(3, 7, root);
  ASSERT_TRUE(io.dma_u64(3, kBlock, false).ok);
  ASSERT_TRUE(io.dma_u64(3, 20 * 4096, false).ok);
  EXPECT_EQ(io.iotlb_occupancy(), 2u);
  io.submit(InvalidationDescriptor{InvalidationScope::kDomain, 7, 0, 0});
  io.wait();
  EXPECT_EQ(io.iotlb_occupancy(), 0u);
}

TEST_F(IommuHwSuperpages, A1GiBLeafTranslatesTheOffsetWithinItsGigabyte) {
  Iommu io(mem, ledger, IommuParams{});
  mem.write_entry(Mfn{1}, 0, (2ULL << 12) | iopte::kRead | iopte::kWrite);
  mem.write_entry(Mfn{2}, 0, iopte::kRead | iopte::kWrite | iopte::kSuperpage);  // frames 0..
  io.set_context(3, 7, root);
  const DmaResult r = io.dma_u64(3, 700 * 4096 + 16, true, 9);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.mfn->value, 700u);
  ASSERT_EQ(io.cached_translations().size(), 1u);
  EXPECT_EQ(io.cached_translations()[0].pages, 512u * 512u);
  EXPECT_TRUE(io.dma_u64(3, 5 * 4096, false).ok);
  EXPECT_EQ(count(sim::Event::kHwIotlbHit), 1u);
}

TEST_F(IommuHwSuperpages, APsEntryBeyondTheLargePageCapabilityIsNotAMapping) {
  Iommu io(mem, ledger, IommuParams{.superpage_levels = 0});
  map_2mib();
  io.set_context(3, 7, root);
  EXPECT_FALSE(io.dma_u64(3, kBlock, false).ok);
  // A 1 GiB leaf needs the second size too; a misaligned one is no mapping either.
  Iommu io1(mem, ledger, IommuParams{.superpage_levels = 1});
  io1.set_context(3, 7, root);
  mem.write_entry(Mfn{2}, 1, (0ULL << 12) | iopte::kRead | iopte::kWrite | iopte::kSuperpage);
  EXPECT_FALSE(io1.dma_u64(3, 1ULL << 30, false).ok);
  mem.write_entry(Mfn{3}, 1, (513ULL << 12) | iopte::kRead | iopte::kWrite | iopte::kSuperpage);
  EXPECT_FALSE(io1.dma_u64(3, kBlock, false).ok);
}

}  // namespace
}  // namespace pib::hw
