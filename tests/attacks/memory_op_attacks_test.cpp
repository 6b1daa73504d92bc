// SPDX-License-Identifier: MIT
// Attacks through HYPERVISOR_memory_op: a guest gives back frames it is still using — a live page
// table, a pinned root, a pooled frame, a frame a device is DMAing to — or populates a pfn it
// already backs, hoping Xen hands the frame to someone else while the guest (or its device) can
// still reach it. Xen's answer everywhere is the same: the allocation reference goes, the frame
// stays the domain's until its last reference does. Each case runs on both generations and ends
// with a clean audit; XSA-288 shows where paper-era Xen really lost track of a frame.
#include "pibooster/xen/pt_pool_validation.hpp"
#include "support/pv_fixture.hpp"

namespace pib::test {
namespace {

using namespace hw::pte_bits;
using sim::Event;

constexpr std::array kGenerations = {xen::XenGeneration::kPaperEra, xen::XenGeneration::kModern};

int64_t decrease(PvFixture& fx, Mfn m) {
  abi::MemoryReservation r{.extent_start = {m.value}};
  return fx.xen.memory_op(0, abi::kXenmemDecreaseReservation, r);
}
// Another domain asking for a frame: it must never get one the first domain still reaches.
Mfn other_domain_takes_a_frame(PvFixture& fx, DomId other) {
  return fx.xen.alloc_domheap_page(fx.xen.domain(other));
}
void unmap_alias(PvFixture& fx, Pfn p) {
  ASSERT_EQ(fx.xen.update_va_mapping(0, {.va = fx.va(p), .val = 0, .flags = abi::kUvmfInvlpg}),
            kOk);
}

TEST(MemoryOpAttacks, AGivenBackLiveL1IsNeverHandedToAnotherDomain) {
  for (const auto gen : kGenerations) {
    PvFixture fx({.generation = gen});
    const DomId other = fx.xen.create_domain({.max_pages = 64});
    const Pfn data = fx.alloc();
    const Pfn t = fx.make_table();
    ASSERT_EQ(fx.pin(1, t), kOk);
    ASSERT_EQ(fx.update(t, 0, fx.pte(data, kDataRw)), kOk);
    unmap_alias(fx, t);  // only the pin holds it now
    EXPECT_EQ(decrease(fx, fx.mfn(t)), 1);
    const Mfn given = other_domain_takes_a_frame(fx, other);
    EXPECT_NE(given, fx.mfn(t)) << name_of(gen) << ": still the first domain's live table";
    EXPECT_EQ(fx.page(t).type, xen::PageType::kL1);
    EXPECT_EQ(fx.page(data).type_count, 2u)
        << "its entry (and the alias) still hold the data frame";
    EXPECT_AUDIT_CLEAN(fx);
  }
}

TEST(MemoryOpAttacks, GivingBackThePinnedRootDoesNotUnpinTheTree) {
  // XSA-252: 4.8's guest_remove_page unpinned a pinned frame, a non-preemptible devalidation of
  // a whole tree a guest could trigger at will. 4.11 and every patched branch leave the pin.
  for (const auto gen : kGenerations) {
    PvFixture fx({.generation = gen});
    const Mfn l4 = fx.mfn(fx.si.pt_base);
    const uint64_t devalidated = fx.count(Event::kXenDevalidateTables);
    EXPECT_EQ(decrease(fx, l4), 1);
    EXPECT_TRUE(fx.xen.frame_table()[l4].pinned) << name_of(gen);
    EXPECT_EQ(fx.count(Event::kXenDevalidateTables), devalidated);
    EXPECT_TRUE(fx.store(fx.alloc(), 0, 5).ok) << "the kernel keeps running on it";
    EXPECT_AUDIT_CLEAN(fx);
  }
}

TEST(MemoryOpAttacks, AGivenBackPooledFrameLeavesThePoolOnlyWhenFreed) {
  for (const auto gen : kGenerations) {
    PvFixture fx({.generation = gen, .iommu = xen::IommuMode::kSync, .policy = [] {
                    return std::make_unique<pibooster::PtPoolValidation>();
                  }});
    xen::Domain& d = fx.xen.domain(fx.si.domid);
    const Pfn t = fx.make_table();
    ASSERT_EQ(fx.mmuext(abi::kMmuextPtPoolAdd, fx.mfn(t).value), kOk);
    ASSERT_EQ(fx.pin(1, t), kOk);
    // Given back while a live, pooled table: it stays pooled and out of reach of DMA.
    EXPECT_EQ(decrease(fx, fx.mfn(t)), 1);
    EXPECT_TRUE(fx.page(t).dma_revoked);
    EXPECT_EQ(fx.xen.iommu_entry(d, fx.mfn(t)), 0u);
    EXPECT_EQ(fx.mmuext(abi::kMmuextPtPoolRemove, fx.mfn(t).value), kEPERM)
        << "no longer allocated: it cannot leave the pool into DMA reach";
    EXPECT_AUDIT_CLEAN(fx);
    ASSERT_EQ(fx.unpin(t), kOk);
    unmap_alias(fx, t);  // last reference: freed, with no pool state left
    EXPECT_EQ(fx.page(t).owner, xen::kNoOwner);
    EXPECT_FALSE(fx.page(t).dma_revoked);
    EXPECT_EQ(fx.xen.validation_policy().pending_revocations(), 0u);
    EXPECT_AUDIT_CLEAN(fx);
  }
}

TEST(MemoryOpAttacks, ADeviceLosesAGivenBackFrameBeforeAnyoneElseGetsIt) {
  for (const auto gen : kGenerations) {
    PvFixture fx({.generation = gen, .iommu = xen::IommuMode::kSync, .dma_device = true});
    hw::Iommu& iommu = *fx.machine.iommu();
    const Pfn buf = fx.alloc();
    const uint64_t iova = fx.mfn(buf).value << kPageShift;
    ASSERT_TRUE(iommu.dma_u64(kDmaDevice, iova, true, 0xabc).ok) << "cached in the IOTLB now";
    unmap_alias(fx, buf);
    EXPECT_EQ(decrease(fx, fx.mfn(buf)), 1);
    EXPECT_EQ(fx.page(buf).owner, xen::kNoOwner);
    // Freed only after its IOMMU entry and the IOTLB's copy are gone (4.17: the final put's
    // cleanup_page_mappings; 4.8-4.11: decrease_reservation itself).
    EXPECT_FALSE(iommu.dma_u64(kDmaDevice, iova, true, 0xbad).ok) << name_of(gen);
    EXPECT_AUDIT_CLEAN(fx);
  }
}

TEST(MemoryOpAttacks, PopulatingAnExistingPfnTouchesNoFrameTheGuestHas) {
  for (const auto gen : kGenerations) {
    PvFixture fx({.generation = gen, .iommu = xen::IommuMode::kSync});
    const Pfn spare = fx.alloc();
    unmap_alias(fx, spare);
    ASSERT_EQ(decrease(fx, fx.mfn(spare)), 1);
    const Pfn t = fx.make_table();
    ASSERT_EQ(fx.pin(1, t), kOk);
    const xen::PageInfo before = fx.page(t);
    abi::MemoryReservation r{.extent_start = {t.value}};
    ASSERT_EQ(fx.xen.memory_op(0, abi::kXenmemPopulatePhysmap, r), 1);
    EXPECT_NE(Mfn{r.extent_start[0]}, fx.mfn(t));
    EXPECT_EQ(fx.page(t), before) << name_of(gen) << ": the live table is not retyped or mapped";
    EXPECT_EQ(fx.xen.iommu_entry(fx.xen.domain(fx.si.domid), fx.mfn(t)), 0u);
    EXPECT_AUDIT_CLEAN(fx);
  }
}

TEST(MemoryOpAttacks, PaperEraXenLeavesAFreedFrameDmaReachable_Xsa288) {
  // XSA-288: before 4.12 a frame could be mapped in the IOMMU again after decrease_reservation
  // had removed it (a type change back to writable maps it), and nothing removed it when it was
  // freed. 4.12+ unmap at the final put (cleanup_page_mappings). The auditor sees the difference.
  for (const auto gen : kGenerations) {
    PvFixture fx({.generation = gen, .iommu = xen::IommuMode::kSync, .dma_device = true});
    const Pfn f = fx.alloc();
    ASSERT_EQ(decrease(fx, fx.mfn(f)), 1);  // still mapped: the guest keeps it
    ASSERT_EQ(fx.remap(f, false), kOk);
    ASSERT_EQ(fx.pin(1, f), kOk);  // writable -> L1
    ASSERT_EQ(fx.unpin(f), kOk);
    ASSERT_EQ(fx.remap(f, true), kOk);  // L1 -> writable: back in the IOMMU
    unmap_alias(fx, f);                 // the last reference: freed
    ASSERT_EQ(fx.page(f).owner, xen::kNoOwner);
    const bool reachable =
        fx.machine.iommu()->dma_u64(kDmaDevice, fx.mfn(f).value << kPageShift, true, 1).ok;
    if (gen == xen::XenGeneration::kModern) {
      EXPECT_FALSE(reachable);
      EXPECT_AUDIT_CLEAN(fx);
    } else {
      EXPECT_TRUE(reachable) << "the paper era's flaw, reproduced";
      const auto problems = fx.audit();
      ASSERT_EQ(problems.size(), 1u);
      EXPECT_NE(problems[0].find("it does not own"), std::string::npos) << problems[0];
      // The kind and frame the fuzzer's XSA-288 allowance keys on.
      const auto typed = xen::audit_problems(fx.xen);
      ASSERT_EQ(typed.size(), 1u);
      EXPECT_EQ(typed[0].kind, xen::AuditKind::kIommuMapsUnowned);
      EXPECT_EQ(typed[0].frame, fx.mfn(f));
    }
  }
}

}  // namespace
}  // namespace pib::test
