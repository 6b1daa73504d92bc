// SPDX-License-Identifier: MIT
// HYPERVISOR_memory_op as Xen 4.17 serves a PV domain (xen/common/memory.c): decrease_reservation
// drops a frame's allocation reference and frees it at its last put; populate_physmap hands out a
// frame, tells the M2P and (per generation) the IOMMU; every refusal shows as a short count of
// extents done. One rule per test; every test ends with a clean audit.
#include "support/pv_fixture.hpp"

namespace pib::test {
namespace {

using namespace hw::pte_bits;
using sim::Event;

constexpr DomId kSelf = abi::kDomidSelf;

struct MemOp {
  int64_t rc = 0;
  abi::MemoryReservation r;
};

MemOp memop(PvFixture& fx, uint32_t cmd, std::vector<uint64_t> extents, uint32_t order = 0,
            DomId domid = kSelf, uint32_t flags = 0) {
  MemOp m;
  m.r = abi::MemoryReservation{.extent_start = std::move(extents),
                               .extent_order = order,
                               .mem_flags = flags,
                               .domid = domid};
  m.rc = fx.xen.memory_op(0, cmd, m.r);
  return m;
}
int64_t decrease(PvFixture& fx, std::vector<uint64_t> mfns, uint32_t order = 0) {
  return memop(fx, abi::kXenmemDecreaseReservation, std::move(mfns), order).rc;
}
int64_t tot_pages(PvFixture& fx, DomId domid = kSelf) {
  abi::MemoryReservation r;
  r.domid = domid;
  return fx.xen.memory_op(0, abi::kXenmemCurrentReservation, r);
}
// The guest's own step before it gives a frame back: its direct-map alias goes.
void unmap_alias(PvFixture& fx, Pfn p) {
  ASSERT_EQ(fx.xen.update_va_mapping(0, {.va = fx.va(p), .val = 0, .flags = abi::kUvmfInvlpg}),
            kOk);
}
// A frame of `fx`'s domain whose only reference is its allocation.
Mfn unreferenced_frame(PvFixture& fx) {
  const Pfn p = fx.alloc();
  unmap_alias(fx, p);
  return fx.mfn(p);
}

TEST(MemoryOpRules, DecreaseReservationFreesAFrameNothingReferences) {
  PvFixture fx;
  const Mfn m = unreferenced_frame(fx);
  const int64_t before = tot_pages(fx);
  EXPECT_EQ(decrease(fx, {m.value}), 1);
  EXPECT_EQ(fx.xen.frame_table()[m].owner, xen::kNoOwner) << "freed";
  EXPECT_EQ(fx.xen.machine_to_phys(m), kInvalidPfn);
  EXPECT_EQ(tot_pages(fx), before - 1);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(MemoryOpRules, AStillMappedFrameLosesOnlyItsAllocationReferenceAndStaysTheDomains) {
  PvFixture fx;
  const Pfn p = fx.alloc();  // mapped writable through the direct map
  const Mfn m = fx.mfn(p);
  const int64_t before = tot_pages(fx);
  EXPECT_EQ(decrease(fx, {m.value}), 1) << "counted as done: Xen only drops PGC_allocated";
  const xen::PageInfo& pg = fx.xen.frame_table()[m];
  EXPECT_EQ(pg.owner, fx.si.domid);
  EXPECT_FALSE(pg.allocated);
  EXPECT_EQ(pg.count, 1u) << "the mapping's reference";
  EXPECT_EQ(tot_pages(fx), before) << "still counted until it is freed";
  EXPECT_EQ(fx.store(p, 0, 0x1234).ok, true) << "the guest still reaches it";
  EXPECT_AUDIT_CLEAN(fx);
  unmap_alias(fx, p);  // the last reference: freed now
  EXPECT_EQ(fx.xen.frame_table()[m].owner, xen::kNoOwner);
  EXPECT_EQ(tot_pages(fx), before - 1);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(MemoryOpRules, APinnedTableGivenBackStaysPinnedAndValidated) {
  for (const auto gen : {xen::XenGeneration::kPaperEra, xen::XenGeneration::kModern}) {
    PvFixture fx({.generation = gen});
    const Pfn t = fx.make_table();
    ASSERT_EQ(fx.pin(1, t), kOk);
    const uint64_t unpins = fx.count(Event::kXenUnpin);
    const uint64_t devalidations = fx.count(Event::kXenDevalidateTables);
    EXPECT_EQ(decrease(fx, {fx.mfn(t).value}), 1);
    // No implicit unpin (XSA-252, 4.11 and every patched branch): no devalidation either.
    EXPECT_TRUE(fx.page(t).pinned);
    EXPECT_TRUE(fx.page(t).validated);
    EXPECT_EQ(fx.page(t).type, xen::PageType::kL1);
    EXPECT_EQ(fx.count(Event::kXenUnpin), unpins);
    EXPECT_EQ(fx.count(Event::kXenDevalidateTables), devalidations);
    EXPECT_AUDIT_CLEAN(fx);
    // The guest's own unpin and unmap let it go.
    ASSERT_EQ(fx.unpin(t), kOk);
    EXPECT_EQ(fx.page(t).owner, fx.si.domid) << "the read-only alias still holds it";
    unmap_alias(fx, t);
    EXPECT_EQ(fx.page(t).owner, xen::kNoOwner);
    EXPECT_AUDIT_CLEAN(fx);
  }
}

TEST(MemoryOpRules, AFrameThatIsNotTheDomainsStopsTheListThere) {
  PvFixture fx;
  const Mfn a = unreferenced_frame(fx);
  const Mfn b = unreferenced_frame(fx);
  // guest_remove_page: get_page fails (-ENXIO); decrease_reservation stops with what it did.
  EXPECT_EQ(decrease(fx, {a.value, fx.xen.xen_l3().value, b.value}), 1);
  EXPECT_EQ(fx.xen.frame_table()[a].owner, xen::kNoOwner);
  EXPECT_EQ(fx.xen.frame_table()[b].owner, fx.si.domid) << "after the failure: untouched";
  EXPECT_EQ(fx.xen.frame_table()[fx.xen.xen_l3()].owner, xen::kOwnerXen);
  // A frame beyond memory (-EINVAL) and a frame already freed (-ENXIO) stop it at once.
  EXPECT_EQ(decrease(fx, {fx.machine.memory().frame_count() + 5, b.value}), 0);
  EXPECT_EQ(decrease(fx, {a.value}), 0);
  EXPECT_EQ(fx.xen.frame_table()[b].owner, fx.si.domid);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(MemoryOpRules, AStillReferencedFrameMayBeGivenBackAgainAFreedOneMayNot) {
  PvFixture fx;
  const Pfn p = fx.alloc();
  const Mfn m = fx.mfn(p);
  EXPECT_EQ(decrease(fx, {m.value}), 1);
  EXPECT_EQ(decrease(fx, {m.value}), 1) << "get_page still succeeds: owned and referenced";
  EXPECT_EQ(fx.xen.frame_table()[m].count, 1u);
  unmap_alias(fx, p);
  EXPECT_EQ(decrease(fx, {m.value}), 0);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(MemoryOpRules, ExtentOrderAboveTheDomainsMaximumIsRefusedWhole) {
  PvFixture fx;
  const Pfn p = fx.alloc();
  const Pfn q = fx.alloc();
  ASSERT_EQ(fx.mfn(q).value, fx.mfn(p).value + 1);
  unmap_alias(fx, p);
  unmap_alias(fx, q);
  EXPECT_EQ(decrease(fx, {fx.mfn(p).value}, 10), 0) << "order 10 > 9 for a domU";
  EXPECT_EQ(fx.page(p).owner, fx.si.domid);
  EXPECT_EQ(decrease(fx, {fx.mfn(p).value}, 1), 1) << "one extent of two frames";
  EXPECT_EQ(fx.page(p).owner, xen::kNoOwner);
  EXPECT_EQ(fx.page(q).owner, xen::kNoOwner);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(MemoryOpRules, AnExtentThatFailsHalfWayIsNotCountedButItsFirstFramesAreGone) {
  PvFixture fx;
  const Mfn last = fx.si.p2m.at(fx.si.nr_pages - 1);  // the next frame is not the domain's
  const Pfn lastp{fx.si.nr_pages - 1};
  unmap_alias(fx, lastp);
  EXPECT_EQ(decrease(fx, {last.value}, 1), 0);
  EXPECT_EQ(fx.xen.frame_table()[last].owner, xen::kNoOwner);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(MemoryOpRules, PopulatePhysmapReturnsTheFrameAndTellsTheM2p) {
  PvFixture fx;
  const Pfn p = fx.alloc();
  unmap_alias(fx, p);
  ASSERT_EQ(decrease(fx, {fx.mfn(p).value}), 1);
  const int64_t before = tot_pages(fx);
  MemOp m = memop(fx, abi::kXenmemPopulatePhysmap, {p.value});
  ASSERT_EQ(m.rc, 1);
  const Mfn got{m.r.extent_start[0]};
  EXPECT_EQ(fx.xen.machine_to_phys(got), p);
  EXPECT_EQ(fx.xen.frame_table()[got].owner, fx.si.domid);
  EXPECT_TRUE(fx.xen.frame_table()[got].allocated);
  EXPECT_EQ(fx.xen.frame_table()[got].type, xen::PageType::kNone) << "no IOMMU: no type ref";
  EXPECT_EQ(tot_pages(fx), before + 1);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(MemoryOpRules, PopulateBeyondMaxPagesStopsWithTheExtentsThatFit) {
  PvFixture fx;
  const Mfn a = unreferenced_frame(fx);
  ASSERT_EQ(decrease(fx, {a.value}), 1);  // room for exactly one frame
  MemOp m = memop(fx, abi::kXenmemPopulatePhysmap, {7, 8, 9});
  EXPECT_EQ(m.rc, 1);
  EXPECT_EQ(m.r.extent_start[1], 8u) << "not written: never done";
  abi::MemoryReservation max{};
  EXPECT_EQ(tot_pages(fx), fx.xen.memory_op(0, abi::kXenmemMaximumReservation, max));
  EXPECT_EQ(memop(fx, abi::kXenmemIncreaseReservation, {0}).rc, 0) << "the same limit";
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(MemoryOpRules, PopulatingAPfnTheGuestAlreadyBacksGivesASecondFrame) {
  // Xen keeps no p2m for a PV guest: the pfn only names the M2P entry of the new frame.
  PvFixture fx;
  const Mfn spare = unreferenced_frame(fx);
  ASSERT_EQ(decrease(fx, {spare.value}), 1);
  const Pfn used = fx.alloc();
  ASSERT_TRUE(fx.store(used, 3, 0x77).ok);
  MemOp m = memop(fx, abi::kXenmemPopulatePhysmap, {used.value});
  ASSERT_EQ(m.rc, 1);
  const Mfn fresh{m.r.extent_start[0]};
  EXPECT_NE(fresh, fx.mfn(used));
  EXPECT_EQ(fx.xen.machine_to_phys(fresh), used);
  EXPECT_EQ(fx.xen.machine_to_phys(fx.mfn(used)), used) << "the old frame's entry is left alone";
  EXPECT_EQ(fx.load(used, 3).value, 0x77u) << "the guest's own mapping is untouched";
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(MemoryOpRules, ModernXenUnmapsAGivenBackFrameFromTheIommuAtItsLastPut) {
  PvFixture fx({.generation = xen::XenGeneration::kModern, .iommu = xen::IommuMode::kSync});
  xen::Domain& d = fx.xen.domain(fx.si.domid);
  const Pfn p = fx.alloc();
  const Mfn m = fx.mfn(p);
  const uint64_t unmaps = fx.count(Event::kHwIommuUnmap);
  const uint64_t invalidations = fx.count(Event::kHwIotlbInvPage);
  ASSERT_EQ(decrease(fx, {m.value}), 1);
  EXPECT_NE(fx.xen.iommu_entry(d, m), 0u) << "writable-typed and referenced: still DMA-able";
  EXPECT_EQ(fx.count(Event::kHwIommuUnmap), unmaps);
  unmap_alias(fx, p);
  EXPECT_EQ(fx.xen.iommu_entry(d, m), 0u);
  EXPECT_EQ(fx.count(Event::kHwIommuUnmap), unmaps + 1);
  EXPECT_EQ(fx.count(Event::kHwIotlbInvPage), invalidations + 1);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(MemoryOpRules, PaperEraXenUnmapsAGivenBackFrameFromTheIommuAtOnce) {
  PvFixture fx({.generation = xen::XenGeneration::kPaperEra, .iommu = xen::IommuMode::kSync});
  xen::Domain& d = fx.xen.domain(fx.si.domid);
  const Pfn p = fx.alloc();
  const Mfn m = fx.mfn(p);
  const uint64_t invalidations = fx.count(Event::kHwIotlbInvPage);
  ASSERT_EQ(decrease(fx, {m.value}), 1);
  EXPECT_EQ(fx.xen.iommu_entry(d, m), 0u) << "p2m_remove_page: whatever its type and refs";
  EXPECT_EQ(fx.count(Event::kHwIotlbInvPage), invalidations + 1);
  EXPECT_EQ(fx.page(p).owner, fx.si.domid) << "still the domain's";
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(MemoryOpRules, PopulateMapsTheFrameInTheIommuWithoutAnInvalidation) {
  for (const auto gen : {xen::XenGeneration::kPaperEra, xen::XenGeneration::kModern}) {
    PvFixture fx({.generation = gen, .iommu = xen::IommuMode::kSync});
    xen::Domain& d = fx.xen.domain(fx.si.domid);
    const Mfn spare = unreferenced_frame(fx);
    ASSERT_EQ(decrease(fx, {spare.value}), 1);
    const uint64_t maps = fx.count(Event::kHwIommuMap);
    const uint64_t invalidations = fx.count(Event::kHwIotlbInvPage);
    MemOp m = memop(fx, abi::kXenmemPopulatePhysmap, {5});
    ASSERT_EQ(m.rc, 1);
    const Mfn got{m.r.extent_start[0]};
    EXPECT_NE(fx.xen.iommu_entry(d, got) & hw::iopte::kWrite, 0u) << name_of(gen);
    EXPECT_EQ(fx.count(Event::kHwIommuMap), maps + 1);
    // A not-present entry made present: no invalidation without caching mode.
    EXPECT_EQ(fx.count(Event::kHwIotlbInvPage), invalidations);
    // 4.17: writable-typed with count 0 (the invariant "in the IOMMU iff writable").
    const auto want =
        gen == xen::XenGeneration::kModern ? xen::PageType::kWritable : xen::PageType::kNone;
    EXPECT_EQ(fx.xen.frame_table()[got].type, want);
    EXPECT_EQ(fx.xen.frame_table()[got].type_count, 0u);
    EXPECT_AUDIT_CLEAN(fx);
  }
}

TEST(MemoryOpRules, AnotherDomainsReservationIsTheToolstacksAlone) {
  PvFixture fx;
  const DomId other = fx.xen.create_domain({.max_pages = 8});
  ASSERT_NE(fx.xen.alloc_domheap_page(fx.xen.domain(other)), kInvalidMfn);
  EXPECT_EQ(memop(fx, abi::kXenmemPopulatePhysmap, {0}, 0, other).rc, 0);
  EXPECT_EQ(tot_pages(fx, other), abi::err::kEPERM);
  EXPECT_EQ(tot_pages(fx, 77), abi::err::kESRCH);
  EXPECT_EQ(memop(fx, abi::kXenmemPopulatePhysmap, {0}, 0, 77).rc, 0) << "no such domain";
  EXPECT_EQ(fx.count(Event::kXenHcFailed), 2u) << "only the errno answers count as failures";
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(MemoryOpRules, ThePrivilegedDomainPopulatesAnotherOne) {
  PvFixture fx({.privileged = true});
  const DomId other = fx.xen.create_domain({.max_pages = 8});
  MemOp m = memop(fx, abi::kXenmemPopulatePhysmap, {0, 1}, 0, other);
  ASSERT_EQ(m.rc, 2);
  EXPECT_EQ(fx.xen.frame_table()[Mfn{m.r.extent_start[1]}].owner, other);
  EXPECT_EQ(fx.xen.machine_to_phys(Mfn{m.r.extent_start[1]}), Pfn{1});
  EXPECT_EQ(tot_pages(fx, other), 2);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(MemoryOpRules, MalformedRequestsGetXensAnswers) {
  PvFixture fx;
  const Mfn m = unreferenced_frame(fx);
  abi::MemoryReservation r{.extent_start = {m.value}};
  EXPECT_EQ(fx.xen.memory_op(0, 21, r), abi::err::kENOSYS) << "outside the model";
  EXPECT_EQ(fx.xen.memory_op(0, abi::kXenmemCurrentReservation | (1U << 6), r), abi::err::kEINVAL)
      << "a statistics command takes no start extent";
  // A continuation's start extent at or beyond the list: returned as it is, nothing done.
  EXPECT_EQ(fx.xen.memory_op(0, abi::kXenmemDecreaseReservation | (1U << 6), r), 1);
  EXPECT_EQ(fx.xen.frame_table()[m].owner, fx.si.domid);
  // An address limit within the first page, an exact node request by a domU, populate-on-demand
  // on oneself: nothing done.
  EXPECT_EQ(memop(fx, abi::kXenmemPopulatePhysmap, {0}, 0, kSelf, 12).rc, 0);
  EXPECT_EQ(memop(fx, abi::kXenmemPopulatePhysmap, {0}, 0, kSelf,
                  (1U << 8) | abi::kXenmemfExactNodeRequest)
                .rc,
            0);
  EXPECT_EQ(memop(fx, abi::kXenmemPopulatePhysmap, {0}, 0, kSelf, abi::kXenmemfPopulateOnDemand).rc,
            0);
  EXPECT_EQ(decrease(fx, {}), 0);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(MemoryOpRules, AFrameFreedWhileCachedIsFlushedFromEveryCpuBeforeReuse) {
  PvFixture fx({.cpus = 2, .vcpus = 2});
  const Pfn p = fx.alloc();
  ASSERT_TRUE(fx.store(p, 0, 1, 1).ok);  // vCPU1's TLB now translates the alias
  // The guest drops the alias without a flush, then gives the frame back: vCPU1 keeps a stale
  // translation of a free frame.
  ASSERT_EQ(fx.xen.update_va_mapping(0, {.va = fx.va(p), .val = 0, .flags = 0}), kOk);
  ASSERT_EQ(decrease(fx, {fx.mfn(p).value}), 1);
  EXPECT_AUDIT_CLEAN(fx);  // stale but harmless: the frame is free
  const uint64_t remote = fx.count(Event::kXenTlbFlushRemote);
  MemOp m = memop(fx, abi::kXenmemPopulatePhysmap, {p.value});
  ASSERT_EQ(m.rc, 1);
  EXPECT_EQ(Mfn{m.r.extent_start[0]}, fx.mfn(p)) << "the free stack's top: the same frame";
  EXPECT_GE(fx.count(Event::kXenTlbFlushRemote), remote + 1) << "vCPU1's CPU flushed first";
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(MemoryOpRules, ALongDecreaseIsPreemptedAndContinuesWithTheRest) {
  PvFixture fx({.iommu = xen::IommuMode::kSync});
  std::vector<uint64_t> frames;
  for (int i = 0; i < 6; ++i) frames.push_back(unreferenced_frame(fx).value);
  std::array<double, sim::kEventCount> units{};
  units[static_cast<std::size_t>(Event::kHwIommuUnmap)] = 100;  // paper era: unmapped at once
  fx.ledger.set_clock(units);
  ASSERT_EQ(fx.xen.vcpu_op(0, abi::kVcpuOpSetSingleshotTimer, fx.xen.system_time_ns(0) + 250), kOk);
  const uint64_t continuations = fx.count(Event::kXenContinuation);
  EXPECT_EQ(decrease(fx, frames), 6) << "the guest sees one call doing everything";
  EXPECT_EQ(fx.count(Event::kXenContinuation), continuations + 1);
  EXPECT_EQ(fx.count(Event::kXenPreempted), 1u);
  for (const uint64_t f : frames) EXPECT_EQ(fx.xen.frame_table()[Mfn{f}].owner, xen::kNoOwner);
  EXPECT_AUDIT_CLEAN(fx);
}

}  // namespace
}  // namespace pib::test
