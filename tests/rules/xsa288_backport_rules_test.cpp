// SPDX-License-Identifier: MIT
// A paper-era Xen with XSA-288's fix (xen.xsa288 = "backport", the patched 4.8-4.11 stable
// releases) against the same Xen as released: a PV frame is in the IOMMU exactly while its type
// is writable (so the builder's page tables, never writable, are out of DMA reach), giving a
// frame back leaves its mapping to the frame's writability, and the final put_page removes a
// writable frame from the IOMMU (cleanup_page_mappings), so no device reaches a freed frame.
#include <gtest/gtest.h>

#include "support/pv_fixture.hpp"

namespace pib::test {
namespace {

PvFixture domain(xen::Xsa288 fix) {
  return PvFixture({.generation = xen::XenGeneration::kPaperEra,
                    .xsa288 = fix,
                    .iommu = xen::IommuMode::kSync,
                    .dma_device = true});
}

bool dma_writes(PvFixture& fx, Mfn m) {
  return fx.machine.iommu()->dma_u64(kDmaDevice, m.value << kPageShift, true, 0).ok;
}

TEST(Xsa288Backport, PopulateMapsOnlyWritableFramesSoTheBuildersTablesAreOutOfReach) {
  PvFixture fixed = domain(xen::Xsa288::kBackport);
  PvFixture unfixed = domain(xen::Xsa288::kDefault);
  const Mfn root = fixed.mfn(fixed.si.pt_base);
  EXPECT_EQ(fixed.xen.iommu_entry(fixed.xen.domain(0), root), 0u);
  EXPECT_NE(unfixed.xen.iommu_entry(unfixed.xen.domain(0), unfixed.mfn(unfixed.si.pt_base)), 0u)
      << "as released, every frame is mapped at populate time: the advisory";
  // A frame that is writable (a free data frame) is mapped either way.
  const Pfn data = fixed.alloc();
  EXPECT_TRUE(dma_writes(fixed, fixed.mfn(data)));
  EXPECT_AUDIT_CLEAN(fixed);
}

// Example 11-xsa-288-freed-frame-dma.hvs, both ways: give a still-mapped frame back, make it an
// L1 and writable again, then drop its last mapping so that it is freed.
void give_back_retype_and_free(PvFixture& fx, Pfn f) {
  abi::MemoryReservation r;
  r.extent_start = {fx.mfn(f).value};
  ASSERT_EQ(fx.xen.memory_op(0, abi::kXenmemDecreaseReservation, r), 1);
  ASSERT_EQ(fx.remap(f, false), kOk);
  ASSERT_EQ(fx.pin(1, f), kOk);
  ASSERT_EQ(fx.unpin(f), kOk);
  ASSERT_EQ(fx.remap(f, true), kOk);
  ASSERT_EQ(fx.xen.update_va_mapping(0, {.va = fx.va(f), .val = 0, .flags = abi::kUvmfInvlpg}),
            kOk);
}

TEST(Xsa288Backport, TheFinalPutRemovesAFreedFrameFromTheIommu) {
  PvFixture fixed = domain(xen::Xsa288::kBackport);
  const Pfn f = fixed.alloc();
  const Mfn m = fixed.mfn(f);
  give_back_retype_and_free(fixed, f);
  EXPECT_EQ(fixed.xen.frame_table()[m].owner, xen::kNoOwner) << "freed";
  EXPECT_FALSE(dma_writes(fixed, m));
  EXPECT_AUDIT_CLEAN(fixed);

  PvFixture unfixed = domain(xen::Xsa288::kDefault);
  const Pfn g = unfixed.alloc();
  const Mfn n = unfixed.mfn(g);
  give_back_retype_and_free(unfixed, g);
  EXPECT_EQ(unfixed.xen.frame_table()[n].owner, xen::kNoOwner);
  EXPECT_TRUE(dma_writes(unfixed, n)) << "as released, the device keeps a free frame";
  EXPECT_EQ(unfixed.audit().size(), 1u);
}

TEST(Xsa288Backport, GivingAFrameBackLeavesItsMappingToItsType) {
  PvFixture fixed = domain(xen::Xsa288::kBackport);
  PvFixture unfixed = domain(xen::Xsa288::kDefault);
  for (PvFixture* fx : {&fixed, &unfixed}) {
    const Pfn f = fx->alloc();
    abi::MemoryReservation r;
    r.extent_start = {fx->mfn(f).value};
    ASSERT_EQ(fx->xen.memory_op(0, abi::kXenmemDecreaseReservation, r), 1);
    // Still mapped writable in the guest: with the fix it stays DMA-reachable like any
    // writable frame; as released, decrease_reservation unmapped it whatever its type.
    EXPECT_EQ(dma_writes(*fx, fx->mfn(f)), fx == &fixed);
  }
}

}  // namespace
}  // namespace pib::test
