// SPDX-License-Identifier: MIT
// The hypercall ABI as Xen 4.17 answers it: which error code each refusal carries, how the
// mmu_update command is decoded, what is ignored rather than refused, and what a guest in user
// mode gets. Each test shows the accepted and the refused case; the comment names the Xen
// function whose behaviour it pins down.
#include "support/pv_fixture.hpp"

namespace pib::test {
namespace {

using namespace hw::pte_bits;
using sim::Event;

int64_t raw_update(PvFixture& fx, uint64_t ptr, uint64_t val, DomId foreigndom = abi::kDomidSelf,
                   uint32_t* done = nullptr) {
  const abi::MmuUpdate req{ptr, val};
  uint32_t d = 0;
  return fx.xen.mmu_update(0, std::span(&req, 1), done != nullptr ? done : &d, foreigndom);
}

// get_page_from_l1e: a RAM frame the domain may not reference is -EBUSY ("could not pin").
TEST(XenAbiRules, MappingAFrameNotOwnedIsEBUSY) {
  PvFixture fx;
  const Pfn data = fx.alloc();
  const Pfn t = fx.make_table();
  ASSERT_EQ(fx.pin(1, t), kOk);
  EXPECT_EQ(fx.update(t, 0, fx.pte(data, kDataRo)), kOk) << "own frame";
  const uint64_t free_frame = fx.machine.memory().frame_count() - 1;  // no domain owns it
  EXPECT_EQ(fx.update(t, 1, hw::Pte::make(Mfn{free_frame}, kDataRo).raw()), kEBUSY);
  EXPECT_EQ(fx.update(t, 2, hw::Pte::make(fx.xen.xen_l3(), kDataRo).raw()), kEBUSY) << "Xen's";
  EXPECT_EQ(fx.load(t, 1).value, 0u);
  EXPECT_AUDIT_CLEAN(fx);
}

// get_page_from_l1e: the writable type reference on a live table cannot be taken: -EBUSY, for
// an mmu_update, an update_va_mapping and the validation of a table holding such an entry.
TEST(XenAbiRules, WritableMappingOfALiveTableIsEBUSY) {
  PvFixture fx;
  const Pfn l1 = fx.make_table();
  ASSERT_EQ(fx.pin(1, l1), kOk);
  const Pfn host = fx.make_table();
  ASSERT_EQ(fx.pin(1, host), kOk);
  EXPECT_EQ(fx.update(host, 0, fx.pte(l1, kDataRo)), kOk);
  EXPECT_EQ(fx.update(host, 1, fx.pte(l1, kDataRw)), kEBUSY);
  EXPECT_EQ(fx.remap(l1, true), kEBUSY);
  const Pfn other = fx.alloc();
  ASSERT_TRUE(fx.store(other, 0, fx.pte(l1, kDataRw)).ok);
  ASSERT_EQ(fx.remap(other, false), kOk);
  EXPECT_EQ(fx.pin(1, other), kEBUSY) << "validation passes the entry's code up";
  EXPECT_AUDIT_CLEAN(fx);
}

// get_page_from_l1e: a frame that is not RAM is MMIO and needs I/O-memory permission (no domain
// of the model holds any): -EPERM; Xen's INVALID_MFN pattern is -EINVAL.
TEST(XenAbiRules, MmioWithoutPermissionIsEPERM) {
  PvFixture fx;
  const Pfn t = fx.make_table();
  ASSERT_EQ(fx.pin(1, t), kOk);
  const uint64_t beyond_ram = fx.machine.memory().frame_count() + 16;
  EXPECT_EQ(fx.update(t, 0, hw::Pte::make(Mfn{beyond_ram}, kDataRo).raw()), kEPERM);
  EXPECT_EQ(fx.update(t, 1, xen::kXenPaddrMask | kDataRo), kEINVAL);
  EXPECT_EQ(fx.load(t, 0).value, 0u);
  EXPECT_EQ(fx.load(t, 1).value, 0u);
}

// l1e_get_pfn takes bits 12-51: bits 46-51 name a frame beyond RAM, refused (-EPERM at L1,
// -EINVAL at L2-L4 where get_page_from_mfn fails), never masked down to a frame the guest
// owns, not even on the fast path of an entry that already maps that frame.
TEST(XenAbiRules, AddressBits46To51AreRefusedNotMasked) {
  PvFixture fx;
  const Pfn data = fx.alloc();
  const Pfn l1 = fx.make_table();
  ASSERT_EQ(fx.pin(1, l1), kOk);
  const uint64_t high = uint64_t{1} << 46;
  EXPECT_EQ(fx.update(l1, 0, fx.pte(data, kDataRo) | high), kEPERM);
  EXPECT_EQ(fx.load(l1, 0).value, 0u);
  ASSERT_EQ(fx.update(l1, 1, fx.pte(data, kDataRo | kUser)), kOk);
  EXPECT_EQ(fx.update(l1, 1, fx.pte(data, kDataRo | kUser) | (uint64_t{1} << 51)), kEPERM)
      << "not the fast path of an unchanged frame";
  EXPECT_EQ(fx.count(Event::kXenModEntryFast), 0u);
  const Pfn l2 = fx.make_table();
  ASSERT_EQ(fx.pin(2, l2), kOk);
  EXPECT_EQ(fx.update(l2, 0, fx.pte(l1, kTableFlags) | high), kEINVAL);
  EXPECT_EQ(fx.update(l2, 0, fx.pte(l1, kTableFlags)), kOk);
  EXPECT_EQ(fx.page(data).count, 3u) << "allocation + direct map + l1[1]";
  EXPECT_AUDIT_CLEAN(fx);
}

// do_mmu_update: cmd = ptr & 7. MMU_PT_UPDATE_NO_TRANSLATE (3) is a normal update for PV;
// 4-7 are -ENOSYS (before, ptr|5 was decoded as a MACHPHYS update).
TEST(XenAbiRules, MmuUpdateCommandIsTheLowThreeBits) {
  PvFixture fx;
  const Pfn data = fx.alloc();
  const Pfn t = fx.make_table();
  ASSERT_EQ(fx.pin(1, t), kOk);
  const uint64_t at = fx.entry(t, 3).value;
  EXPECT_EQ(raw_update(fx, at | abi::kMmuPtUpdateNoTranslate, fx.pte(data, kDataRo)), kOk);
  EXPECT_EQ(hw::Pte{fx.load(t, 3).value}.mfn(), fx.mfn(data));
  const Pfn before = fx.xen.machine_to_phys(fx.mfn(data));
  for (uint64_t cmd = 4; cmd <= 7; ++cmd) {
    uint32_t done = 9;
    EXPECT_EQ(raw_update(fx, maddr_of(fx.mfn(data)).value | cmd, 77, abi::kDomidSelf, &done),
              abi::err::kENOSYS)
        << "cmd " << cmd;
    EXPECT_EQ(done, 0u);
  }
  EXPECT_EQ(fx.xen.machine_to_phys(fx.mfn(data)), before) << "ptr|5 is no MACHPHYS update";
  EXPECT_EQ(raw_update(fx, maddr_of(fx.mfn(data)).value | abi::kMmuMachphysUpdate, 77), kOk);
  EXPECT_EQ(fx.xen.machine_to_phys(fx.mfn(data)), Pfn{77});
  EXPECT_AUDIT_CLEAN(fx);
}

// paging_invlpg ignores a non-canonical address; INVLPG_MULTI/ALL (__addr_ok) also ignore
// Xen's own range. Neither is an error.
TEST(XenAbiRules, InvlpgOfAnAddressXenWillNotFlushIsIgnored) {
  PvFixture fx;
  const uint64_t non_canonical = 0x0000800000000000ULL;
  const uint64_t xen_range = 0xffff800000001000ULL;  // L4 slot 256
  EXPECT_EQ(fx.mmuext(abi::kMmuextInvlpgLocal, non_canonical), kOk);
  EXPECT_EQ(fx.mmuext(abi::kMmuextInvlpgAll, non_canonical), kOk);
  EXPECT_EQ(fx.mmuext(abi::kMmuextInvlpgAll, xen_range), kOk);
  EXPECT_EQ(fx.mmuext(abi::kMmuextInvlpgMulti, xen_range, 1), kOk);
  EXPECT_EQ(fx.count(Event::kXenInvlpgLocal), 0u) << "nothing was flushed";
  EXPECT_EQ(fx.mmuext(abi::kMmuextInvlpgLocal, xen_range), kOk);
  EXPECT_EQ(fx.mmuext(abi::kMmuextInvlpgAll, fx.va(Pfn{0}).value), kOk);
  EXPECT_EQ(fx.count(Event::kXenInvlpgLocal), 2u);
  EXPECT_EQ(fx.count(Event::kXenHcFailed), 0u);
}

// get_pg_owner: DOMID_SELF is the caller; its own numeric id and an unknown id are -ESRCH; an
// existing other domain fails the XSM check (-EPERM), in mmu_update only once a request is
// looked at.
TEST(XenAbiRules, ForeignDomainOfSelfOrNobodyIsESRCH) {
  PvFixture fx({.machine_frames = 8192});
  const auto other = xen::build_pv_domain(fx.xen, xen::PvDomainSpec{.pages = 512});
  fx.xen.set_port_domain(0);
  const Pfn t = fx.alloc();
  const uint64_t at = fx.entry(t, 0).value;
  EXPECT_EQ(raw_update(fx, at, 1, abi::kDomidSelf), kOk);
  EXPECT_EQ(raw_update(fx, at, 2, fx.si.domid), abi::err::kESRCH) << "own id";
  EXPECT_EQ(raw_update(fx, at, 3, 0x1234), abi::err::kESRCH) << "no such domain";
  EXPECT_EQ(raw_update(fx, at, 4, other.domid), kEPERM);
  EXPECT_EQ(raw_update(fx, at, 4, abi::kDomidXen), kEPERM);
  uint32_t done = 0;
  EXPECT_EQ(fx.xen.mmu_update(0, {}, &done, other.domid), kOk) << "no request, no XSM check";
  EXPECT_EQ(fx.xen.mmu_update(0, {}, &done, 0x1234), abi::err::kESRCH);
  EXPECT_EQ(fx.load(t, 0).value, 1u);
  const abi::MmuextOp flush{abi::kMmuextTlbFlushLocal, 0, 0};
  EXPECT_EQ(fx.xen.mmuext_op(0, std::span(&flush, 1), &done, abi::kDomidSelf), kOk);
  EXPECT_EQ(fx.xen.mmuext_op(0, std::span(&flush, 1), &done, fx.si.domid), abi::err::kESRCH);
  EXPECT_EQ(fx.xen.mmuext_op(0, std::span(&flush, 1), &done, 0x1234), abi::err::kESRCH);
  EXPECT_EQ(fx.xen.mmuext_op(0, std::span(&flush, 1), &done, other.domid), kEPERM);
}

// do_mmuext_op: FLUSH_CACHE needs cache_flush_permitted, -EACCES without; FLUSH_CACHE_GLOBAL
// answers the same with -EINVAL.
TEST(XenAbiRules, UnprivilegedCacheFlushIsEACCES) {
  PvFixture plain;
  EXPECT_EQ(plain.mmuext(abi::kMmuextFlushCache, 0), abi::err::kEACCES);
  EXPECT_EQ(plain.mmuext(abi::kMmuextFlushCacheGlobal, 0), kEINVAL);
  PvFixture dom0({.privileged = true});
  EXPECT_EQ(dom0.mmuext(abi::kMmuextFlushCache, 0), kOk);
  EXPECT_EQ(dom0.mmuext(abi::kMmuextFlushCacheGlobal, 0), kOk);
}

// The hypercall dispatcher answers an operation it has no handler for with -ENOSYS, which
// do_multicall copies into the entry's result like any other.
TEST(XenAbiRules, UnknownMulticallOpGetsENOSYSInItsSlot) {
  PvFixture fx;
  std::vector<abi::MulticallEntry> mc(2);
  mc[0].op = static_cast<abi::HypercallNr>(99);
  mc[0].result = 12345;  // whatever the guest left there
  mc[1].op = abi::HypercallNr::kMmuextOp;
  mc[1].mmuext_ops = {{abi::kMmuextTlbFlushLocal, 0, 0}};
  mc[1].result = 12345;
  EXPECT_EQ(fx.xen.multicall(0, mc), kOk);
  EXPECT_EQ(mc[0].result, abi::err::kENOSYS);
  EXPECT_EQ(mc[1].result, kOk) << "a failed entry does not stop the batch";
}

// l1_disallow_mask: cache attributes are allowed once the domain has a device assigned
// (has_arch_pdevs), not only with I/O privilege.
TEST(XenAbiRules, CacheAttributesAllowedOnceADeviceIsAssigned) {
  PvFixture fx({.iommu = xen::IommuMode::kSync});
  const Pfn data = fx.alloc();
  const Pfn t = fx.make_table();
  ASSERT_EQ(fx.pin(1, t), kOk);
  EXPECT_EQ(fx.update(t, 0, fx.pte(data, kDataRo | kPcd)), kEINVAL);
  fx.xen.assign_device(fx.si.domid, 3);
  EXPECT_EQ(fx.update(t, 0, fx.pte(data, kDataRo | kPcd)), kOk);
  EXPECT_AUDIT_CLEAN(fx);
}

// put_page -> cleanup_page_mappings (4.12+): the final reference of a frame still typed
// writable removes it from its owner's IOMMU, with the invalidation an unmap needs.
TEST(XenAbiRules, FinalPutOfAWritableFrameRemovesItFromTheIommu) {
  PvFixture fx({.generation = xen::XenGeneration::kModern, .iommu = xen::IommuMode::kSync});
  xen::Domain& d = fx.xen.domain(fx.si.domid);
  const Pfn data = fx.alloc();
  const Mfn m = fx.mfn(data);
  ASSERT_NE(fx.xen.iommu_entry(d, m), 0u);
  EXPECT_FALSE(fx.xen.relinquish_page(d, fx.xen.xen_l3())) << "not the domain's";
  // Drop the direct-map alias, the frame's last mapping: writable-typed with count 0, still DMA
  // reachable (in the IOMMU exactly while its type is writable).
  ASSERT_EQ(fx.xen.update_va_mapping(0, {.va = fx.va(data), .val = 0, .flags = abi::kUvmfInvlpg}),
            kOk);
  ASSERT_EQ(fx.page(data).type, xen::PageType::kWritable);
  ASSERT_NE(fx.xen.iommu_entry(d, m), 0u);
  const uint64_t unmaps = fx.count(Event::kHwIommuUnmap);
  const uint64_t invalidations = fx.count(Event::kHwIotlbInvPage);
  ASSERT_TRUE(fx.xen.relinquish_page(d, m));
  EXPECT_EQ(fx.xen.frame_table()[m].owner, xen::kNoOwner) << "freed";
  EXPECT_EQ(fx.xen.iommu_entry(d, m), 0u);
  EXPECT_EQ(fx.count(Event::kHwIommuUnmap), unmaps + 1);
  EXPECT_EQ(fx.count(Event::kHwIotlbInvPage), invalidations + 1);
  EXPECT_AUDIT_CLEAN(fx);
}

// A frame that is still referenced when its allocation reference goes stays in the IOMMU until
// the last reference does.
TEST(XenAbiRules, IommuCleanUpWaitsForTheLastReference) {
  PvFixture fx({.generation = xen::XenGeneration::kModern, .iommu = xen::IommuMode::kSync});
  xen::Domain& d = fx.xen.domain(fx.si.domid);
  const Pfn data = fx.alloc();
  const Mfn m = fx.mfn(data);
  ASSERT_TRUE(fx.xen.relinquish_page(d, m));
  EXPECT_NE(fx.xen.iommu_entry(d, m), 0u) << "the direct map still maps it";
  ASSERT_EQ(fx.xen.update_va_mapping(0, {.va = fx.va(data), .val = 0, .flags = abi::kUvmfInvlpg}),
            kOk);
  EXPECT_EQ(fx.xen.iommu_entry(d, m), 0u);
}

}  // namespace
}  // namespace pib::test
