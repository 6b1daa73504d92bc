// SPDX-License-Identifier: MIT
// Xen 4.17's IOMMU superpages for a PV domain (vtd/iommu.c, pt-contig-markers.h): a map that
// leaves a level-1 I/O table mapping one aligned 2 MiB block with identical permissions merges
// it into one superpage entry, frees the table and invalidates the domain's IOTLB; unmapping a
// frame inside splits the superpage again; iommu=no-superpages keeps 4 KiB entries. One rule
// per test, with its counts; every test ends with a clean audit.
#include <array>

#include "pibooster/xen/pt_pool_validation.hpp"
#include "support/pv_fixture.hpp"
#include "xen/dma_adversary.hpp"

namespace pib::test {
namespace {

using namespace hw::pte_bits;
using sim::Event;

constexpr uint64_t kBlockFrames = 512;

struct Populated {
  int64_t rc = 0;
  Mfn first;
};

Populated populate(PvFixture& fx, uint64_t gpfn, uint32_t order) {
  abi::MemoryReservation r{.extent_start = {gpfn}, .extent_order = order, .domid = abi::kDomidSelf};
  const int64_t rc = fx.xen.memory_op(0, abi::kXenmemPopulatePhysmap, r);
  return {rc, Mfn{r.extent_start[0]}};
}

// One 2 MiB extent of fresh frames, 2 MiB-aligned as Xen's buddy allocator hands it out: the
// model's free stack gives single frames until its top is aligned (the toolstack first raises
// the domain's maximum, XEN_DOMCTL_max_mem). Each frame enters the IOMMU writable as it is
// populated (guest_physmap_add_page's writable type reference).
Mfn populate_block(PvFixture& fx) {
  fx.xen.domain(fx.si.domid).config.max_pages += 4 * kBlockFrames;
  uint64_t gpfn = fx.si.nr_pages;
  for (;;) {
    const uint64_t tables = fx.count(Event::kHwIommuPtAlloc);
    const Populated one = populate(fx, gpfn++, 0);
    EXPECT_EQ(one.rc, 1);
    // A frame opening a new block brings its level-1 I/O table right behind it.
    const uint64_t next = one.first.value + 1 + (fx.count(Event::kHwIommuPtAlloc) - tables);
    if (next % kBlockFrames == 0) break;
  }
  const Populated block = populate(fx, gpfn, 9);
  EXPECT_EQ(block.rc, 1);
  EXPECT_EQ(block.first.value % kBlockFrames, 0u);
  return block.first;
}

PvFixtureParams with(xen::IommuSuperpages s) {
  return {.generation = xen::XenGeneration::kModern,
          .iommu_superpages = s,
          .iommu = xen::IommuMode::kSync,
          .dma_device = true};
}

// Counts since it was taken.
struct Counts {
  explicit Counts(const PvFixture& fx) : fx_(fx) {
    for (std::size_t e = 0; e < sim::kEventCount; ++e) before_[e] = fx.count(Event(e));
  }
  uint64_t operator()(Event e) const { return fx_.count(e) - before_[static_cast<std::size_t>(e)]; }

 private:
  const PvFixture& fx_;
  std::array<uint64_t, sim::kEventCount> before_{};
};

hw::DmaResult dma_write(PvFixture& fx, Mfn frame, uint64_t value = 0x5a5a) {
  return fx.machine.iommu()->dma_u64(kDmaDevice, frame.value << kPageShift, true, value);
}

// The guest maps `frame` writable through the direct-map alias of a spare pfn, as Linux remaps
// a freed page table RW: the frame's type turns writable again.
int64_t map_writable(PvFixture& fx, Mfn frame) {
  const Pfn alias = fx.alloc();
  return fx.xen.update_va_mapping(0, {.va = fx.va(alias),
                                      .val = (frame.value << kPageShift) | kDataRw | kNx,
                                      .flags = abi::kUvmfInvlpg});
}

bool superpage_cached(PvFixture& fx) {
  for (const auto& t : fx.machine.iommu()->cached_translations()) {
    if (t.pages == kBlockFrames) return true;
  }
  return false;
}

TEST(IommuSuperpageRules, AFullBlockOfWritableFramesMergesIntoOneSuperpage) {
  PvFixture fx(with(xen::IommuSuperpages::kDefault));  // modern Xen's default: on
  Counts n(fx);
  const Mfn first = populate_block(fx);
  EXPECT_EQ(n(Event::kXenIommuCoalesce), 1u);
  EXPECT_EQ(n(Event::kXenIommuPtFree), 1u) << "the level-1 table goes";
  EXPECT_EQ(n(Event::kHwIotlbInvDomain), 1u) << "IOMMU_FLUSHF_all: one domain-wide flush";
  EXPECT_EQ(n(Event::kHwIotlbInvPage), 0u);
  // The device still reaches exactly the right frames, all through one cached translation.
  for (const uint64_t k : {0u, 1u, 300u, 511u}) {
    const hw::DmaResult r = dma_write(fx, Mfn{first.value + k}, k);
    ASSERT_TRUE(r.ok) << k;
    EXPECT_EQ(r.mfn->value, first.value + k);
    EXPECT_EQ(fx.machine.memory().read_u64(Maddr{(first.value + k) << kPageShift}), k);
  }
  EXPECT_TRUE(superpage_cached(fx));
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(IommuSuperpageRules, PinningAFrameInsideTheSuperpageSplitsItAndBlocksOnlyThatFrame) {
  PvFixture fx(with(xen::IommuSuperpages::kOn));
  const Mfn first = populate_block(fx);
  ASSERT_TRUE(dma_write(fx, first).ok);
  ASSERT_TRUE(superpage_cached(fx));
  const Mfn table{first.value + 100};
  Counts n(fx);
  ASSERT_EQ(fx.mmuext(abi::kMmuextPinL1Table, table.value), kOk);
  // addr_to_dma_page_maddr splits (one table allocated, filled with 512 entries), the unmap
  // clears one of them and flushes that page only: no domain-wide invalidation.
  EXPECT_EQ(n(Event::kXenIommuShatter), 1u);
  EXPECT_EQ(n(Event::kHwIommuPtAlloc), 1u);
  EXPECT_EQ(n(Event::kHwIommuUnmap), 1u);
  EXPECT_EQ(n(Event::kHwIotlbInvPage), 1u);
  EXPECT_EQ(n(Event::kHwIotlbInvDomain), 0u);
  EXPECT_FALSE(superpage_cached(fx)) << "the page flush overlaps the cached superpage";
  EXPECT_FALSE(dma_write(fx, table).ok) << "a page table is not DMA-writable";
  for (const uint64_t k : {0u, 99u, 101u, 511u}) {
    const hw::DmaResult r = dma_write(fx, Mfn{first.value + k});
    EXPECT_TRUE(r.ok && r.mfn->value == first.value + k) << k;
  }
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(IommuSuperpageRules, TheFrameBecomingWritableAgainReMergesTheBlock) {
  PvFixture fx(with(xen::IommuSuperpages::kOn));
  const Mfn first = populate_block(fx);
  const Mfn table{first.value + 100};
  ASSERT_EQ(fx.mmuext(abi::kMmuextPinL1Table, table.value), kOk);
  ASSERT_EQ(fx.mmuext(abi::kMmuextUnpinTable, table.value), kOk);
  EXPECT_FALSE(dma_write(fx, table).ok) << "unpinned, still L1-typed: still not in the IOMMU";
  Counts n(fx);
  // The guest maps the frame writable (as Linux remaps a freed page table RW): the type
  // turns writable, the IOMMU maps it, and the table is whole again.
  ASSERT_EQ(map_writable(fx, table), kOk);
  EXPECT_EQ(n(Event::kHwIommuMap), 1u);
  EXPECT_EQ(n(Event::kXenIommuCoalesce), 1u);
  EXPECT_EQ(n(Event::kXenIommuPtFree), 1u);
  EXPECT_EQ(n(Event::kHwIotlbInvDomain), 1u);
  EXPECT_EQ(n(Event::kHwIotlbInvPage), 0u);
  EXPECT_TRUE(dma_write(fx, table).ok);
  EXPECT_TRUE(superpage_cached(fx));
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(IommuSuperpageRules, WithNoSuperpagesTheBlockKeepsItsFourKibEntries) {
  PvFixture fx(with(xen::IommuSuperpages::kOff));  // iommu=no-superpages
  Counts n(fx);
  const Mfn first = populate_block(fx);
  EXPECT_EQ(n(Event::kXenIommuCoalesce), 0u);
  EXPECT_EQ(n(Event::kHwIotlbInvDomain), 0u);
  EXPECT_EQ(n(Event::kHwIotlbInvPage), 0u);
  EXPECT_EQ(n(Event::kXenIommuMapSkipped), n(Event::kHwIommuMap)) << "every map: added only";
  ASSERT_TRUE(dma_write(fx, first).ok);
  EXPECT_FALSE(superpage_cached(fx));
  const Mfn table{first.value + 100};
  Counts pin(fx);
  ASSERT_EQ(fx.mmuext(abi::kMmuextPinL1Table, table.value), kOk);
  EXPECT_EQ(pin(Event::kHwIommuUnmap), 1u);
  EXPECT_EQ(pin(Event::kHwIotlbInvPage), 1u);
  EXPECT_EQ(pin(Event::kHwIommuPtAlloc), 0u);
  EXPECT_EQ(pin(Event::kXenIommuShatter), 0u);
  ASSERT_EQ(fx.mmuext(abi::kMmuextUnpinTable, table.value), kOk);
  Counts remap(fx);
  ASSERT_EQ(map_writable(fx, table), kOk);
  EXPECT_EQ(remap(Event::kHwIommuMap), 1u);
  EXPECT_EQ(remap(Event::kXenIommuMapSkipped), 1u);
  EXPECT_EQ(remap(Event::kHwIotlbInvDomain) + remap(Event::kHwIotlbInvPage), 0u);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(IommuSuperpageRules, ADomainWideInvalidationEvictsTheDevicesOtherTranslations) {
  for (const auto s : {xen::IommuSuperpages::kOn, xen::IommuSuperpages::kOff}) {
    PvFixture fx(with(s));
    const Mfn unrelated = fx.mfn(fx.alloc());
    ASSERT_TRUE(dma_write(fx, unrelated).ok);
    const uint64_t iova = unrelated.value << kPageShift;
    ASSERT_TRUE(fx.machine.iommu()->cached_entry(fx.si.domid, iova).has_value());
    populate_block(fx);
    // The merge's flush names no page: the device's cached translation of a frame that has
    // nothing to do with the block is gone and costs it a walk; without superpages it stays.
    const bool merged = s == xen::IommuSuperpages::kOn;
    EXPECT_EQ(fx.machine.iommu()->cached_entry(fx.si.domid, iova).has_value(), !merged);
    const uint64_t misses = fx.count(Event::kHwIotlbMiss);
    ASSERT_TRUE(dma_write(fx, unrelated).ok);
    EXPECT_EQ(fx.count(Event::kHwIotlbMiss) - misses, merged ? 1u : 0u);
    EXPECT_AUDIT_CLEAN(fx);
  }
}

TEST(IommuSuperpageRules, UnmappingABlocksLastFrameFreesTheEmptyTableDomainWide) {
  for (const auto s : {xen::IommuSuperpages::kOn, xen::IommuSuperpages::kOff}) {
    PvFixture fx(with(s));
    const Mfn first = populate_block(fx);
    Counts n(fx);
    abi::MemoryReservation r{
        .extent_start = {first.value}, .extent_order = 9, .domid = abi::kDomidSelf};
    ASSERT_EQ(fx.xen.memory_op(0, abi::kXenmemDecreaseReservation, r), 1);
    // Each freed frame leaves the IOMMU (cleanup_page_mappings); the superpage splits at the
    // first, the 512th empties the table, which is freed after a domain-wide flush.
    const bool split = s == xen::IommuSuperpages::kOn;
    EXPECT_EQ(n(Event::kXenIommuShatter), split ? 1u : 0u);
    EXPECT_EQ(n(Event::kHwIommuUnmap), kBlockFrames);
    EXPECT_EQ(n(Event::kHwIotlbInvPage), kBlockFrames - 1);
    EXPECT_EQ(n(Event::kHwIotlbInvDomain), 1u);
    EXPECT_EQ(n(Event::kXenIommuPtFree), 1u);
    EXPECT_FALSE(dma_write(fx, first).ok);
    EXPECT_AUDIT_CLEAN(fx);
  }
}

// Frames for the domain until Xen's free stack tops at `boundary` (a multiple of 512): 2 MiB
// extents while they fit, single frames for the rest, counting the I/O tables that come with
// them.
void populate_up_to(PvFixture& fx, uint64_t boundary, uint64_t& gpfn) {
  uint64_t next = 0;
  do {
    const uint64_t tables = fx.count(Event::kHwIommuPtAlloc);
    const uint32_t order = next != 0 && next + 2 * kBlockFrames < boundary ? 9 : 0;
    const Populated got = populate(fx, gpfn, order);
    ASSERT_EQ(got.rc, 1);
    gpfn += uint64_t{1} << order;
    next = got.first.value + (uint64_t{1} << order) + (fx.count(Event::kHwIommuPtAlloc) - tables);
  } while (next != boundary);
}

TEST(IommuSuperpageRules, AGigabyteOfMergedBlocksMergesIntoOne1GiBSuperpage) {
  // A privileged domain (its extents may be 1 GiB) on a machine with a second gigabyte.
  constexpr uint64_t kGiB = kBlockFrames * kBlockFrames;
  PvFixtureParams p = with(xen::IommuSuperpages::kOn);
  p.machine_frames = 2 * kGiB + 8192;
  p.privileged = true;
  PvFixture fx(p);
  fx.xen.domain(fx.si.domid).config.max_pages = 2 * kGiB;
  uint64_t gpfn = fx.si.nr_pages;
  populate_up_to(fx, kGiB, gpfn);
  Counts n(fx);
  const Populated giga = populate(fx, gpfn, 18);
  ASSERT_EQ(giga.rc, 1);
  ASSERT_EQ(giga.first.value, kGiB);
  // Each 2 MiB block merges as it completes; the last one completes the level-2 table too,
  // and one domain-wide flush covers both merges.
  EXPECT_EQ(n(Event::kXenIommuCoalesce), kBlockFrames + 1);
  EXPECT_EQ(n(Event::kXenIommuPtFree), kBlockFrames + 1);
  EXPECT_EQ(n(Event::kHwIotlbInvDomain), kBlockFrames);
  const hw::DmaResult r = dma_write(fx, Mfn{kGiB + 123457});
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.mfn->value, kGiB + 123457);
  ASSERT_EQ(fx.machine.iommu()->cached_translations().size(), 1u);
  EXPECT_EQ(fx.machine.iommu()->cached_translations()[0].pages, kGiB);
  // A page table inside splits the gigabyte into 2 MiB leaves and one of them into 4 KiB.
  Counts pin(fx);
  ASSERT_EQ(fx.mmuext(abi::kMmuextPinL1Table, kGiB + 4096), kOk);
  EXPECT_EQ(pin(Event::kXenIommuShatter), 2u);
  EXPECT_EQ(pin(Event::kHwIotlbInvPage), 1u);
  EXPECT_FALSE(dma_write(fx, Mfn{kGiB + 4096}).ok);
  EXPECT_TRUE(dma_write(fx, Mfn{kGiB + 4097}).ok);
  EXPECT_TRUE(dma_write(fx, Mfn{kGiB + 100000}).ok);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(IommuSuperpageRules, ADeviceBetweenEveryStepNeverReachesATableInASplitBlock) {
  PvFixture fx(with(xen::IommuSuperpages::kOn));
  const Mfn first = populate_block(fx);
  ASSERT_TRUE(dma_write(fx, first).ok);  // the superpage is cached when the split begins
  // The device tries a write into every live page table at every step of every hypercall,
  // through the I/O tables and through whatever the IOTLB still holds.
  xen::DmaAdversary adversary({.mode = xen::DmaAdversaryMode::kAttack, .device = kDmaDevice});
  fx.xen.set_interleaving_observer(&adversary);
  const Mfn table{first.value + 7};
  ASSERT_EQ(fx.mmuext(abi::kMmuextPinL1Table, table.value), kOk);
  ASSERT_EQ(fx.mmuext(abi::kMmuextUnpinTable, table.value), kOk);
  ASSERT_EQ(map_writable(fx, table), kOk);
  fx.xen.set_interleaving_observer(nullptr);
  EXPECT_GT(adversary.points(), 0u);
  EXPECT_EQ(adversary.violations(), 0u) << adversary.summary();
  EXPECT_EQ(fx.count(Event::kXenIommuCoalesce), 2u) << "merged at populate, again at the end";
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(IommuSuperpageRules, PaperEraXenHasNoIommuSuperpages) {
  PvFixtureParams p = with(xen::IommuSuperpages::kDefault);
  p.generation = xen::XenGeneration::kPaperEra;
  {
    PvFixture fx(p);
    Counts n(fx);
    populate_block(fx);
    EXPECT_EQ(n(Event::kXenIommuCoalesce), 0u);
    EXPECT_EQ(n(Event::kHwIotlbInvDomain), 0u);
    EXPECT_AUDIT_CLEAN(fx);
  }
  p.iommu_superpages = xen::IommuSuperpages::kOn;
  EXPECT_THROW(PvFixture{p}, InputError);
}

// With no frame left for the table a split needs, a frame inside the superpage cannot leave the
// IOMMU. Given back, its final put_page leaks it as 4.17 does (cleanup_page_mappings failed:
// "Leaking mfn"): still the domain's, unreferenced, still DMA-reachable by its own device, and
// never handed to anyone else. The page-table pool refuses to take such a frame (-ENOMEM), so
// no pooled frame is DMA-reachable.
TEST(IommuSuperpageRules, WithNoFrameToSplitTheSuperpageAFrameCannotLeaveTheIommu) {
  PvFixtureParams p = with(xen::IommuSuperpages::kOn);
  p.policy = [] { return std::make_unique<pibooster::PtPoolValidation>(); };
  PvFixture fx(p);
  const Mfn first = populate_block(fx);
  fx.xen.domain(fx.si.domid).config.max_pages += fx.machine.memory().frame_count();
  for (uint64_t gpfn = 1u << 20;; ++gpfn) {  // every free frame, the domain's
    if (populate(fx, gpfn, 0).rc != 1) break;
  }
  const Mfn pooled{first.value + 7};
  EXPECT_EQ(fx.mmuext(abi::kMmuextPtPoolAdd, pooled.value), abi::err::kENOMEM);
  EXPECT_FALSE(fx.xen.frame_table()[pooled].dma_revoked);

  const Mfn given{first.value + 3};
  Counts n(fx);
  abi::MemoryReservation r{.extent_start = {given.value}, .domid = abi::kDomidSelf};
  ASSERT_EQ(fx.xen.memory_op(0, abi::kXenmemDecreaseReservation, r), 1);
  EXPECT_EQ(n(Event::kXenIommuShatter), 0u);
  const xen::PageInfo& pg = fx.xen.frame_table()[given];
  EXPECT_EQ(pg.owner, fx.si.domid) << "leaked, not freed";
  EXPECT_EQ(pg.count, 0u);
  EXPECT_FALSE(pg.allocated);
  EXPECT_TRUE(dma_write(fx, given).ok) << "its own device still reaches it";
  EXPECT_AUDIT_CLEAN(fx);
}

}  // namespace
}  // namespace pib::test
