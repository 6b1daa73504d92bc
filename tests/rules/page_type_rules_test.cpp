// SPDX-License-Identifier: MIT
// One test per rule of Xen's page-type system, each showing the accepted and the refused case.
#include "support/pv_fixture.hpp"

namespace pib::test {
namespace {

using namespace hw::pte_bits;
using sim::Event;

TEST(PageTypeRules, WritableMappingOfPageTableIsRejected) {
  PvFixture fx;
  const Pfn l1 = fx.make_table();
  ASSERT_EQ(fx.pin(1, l1), kOk);
  const Pfn host = fx.make_table();
  ASSERT_EQ(fx.pin(1, host), kOk);
  EXPECT_EQ(fx.update(host, 0, fx.pte(l1, kDataRw)), kEBUSY);  // RW: refused
  EXPECT_EQ(fx.update(host, 0, fx.pte(l1, kDataRo)), kOk);     // RO: fine
  EXPECT_EQ(fx.remap(l1, true), kEBUSY);  // nor may its own direct-map alias turn RW
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PageTypeRules, FrameWithWritableMappingCannotBecomePageTable) {
  PvFixture fx;
  const Pfn t = fx.alloc();  // still mapped RW in the direct map
  EXPECT_EQ(fx.pin(1, t), kEINVAL);
  ASSERT_EQ(fx.remap(t, false), kOk);
  EXPECT_EQ(fx.pin(1, t), kOk);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PageTypeRules, TypeCannotChangeWhileInUse) {
  PvFixture fx;
  const Pfn t = fx.make_table();
  ASSERT_EQ(fx.pin(1, t), kOk);
  EXPECT_EQ(fx.pin(2, t), kEINVAL);  // in use as L1
  ASSERT_EQ(fx.unpin(t), kOk);
  EXPECT_EQ(fx.pin(2, t), kOk);  // type count 0: may become an L2
  EXPECT_EQ(fx.page(t).type, xen::PageType::kL2);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PageTypeRules, TypesAreStickyAndRevalidateWithoutTypeChange) {
  PvFixture fx;
  const Pfn t = fx.make_table();
  ASSERT_EQ(fx.pin(1, t), kOk);
  const uint64_t to_pt = fx.count(Event::kXenTypeChangeToPt);
  const uint64_t validations = fx.count(Event::kXenValidateTables);
  ASSERT_EQ(fx.unpin(t), kOk);
  EXPECT_EQ(fx.page(t).type, xen::PageType::kL1) << "type kept at count 0";
  EXPECT_FALSE(fx.page(t).validated);
  EXPECT_EQ(fx.count(Event::kXenDevalidateTables), 1u);
  ASSERT_EQ(fx.pin(1, t), kOk);
  EXPECT_EQ(fx.count(Event::kXenTypeChangeToPt), to_pt) << "no type change on re-pin";
  EXPECT_EQ(fx.count(Event::kXenValidateTables), validations + 1) << "but a full revalidation";
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PageTypeRules, DoublePinAndUnpinOfUnpinnedAreRejected) {
  PvFixture fx;
  const Pfn t = fx.make_table();
  EXPECT_EQ(fx.unpin(t), kEINVAL);
  ASSERT_EQ(fx.pin(1, t), kOk);
  EXPECT_EQ(fx.pin(1, t), kEINVAL);
  EXPECT_EQ(fx.page(t).type_count, 1u);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PageTypeRules, ValidationRefusesInvalidEntryAndUndoesEverything) {
  PvFixture fx;
  const Pfn data = fx.alloc();
  const Pfn t = fx.alloc();
  ASSERT_TRUE(fx.store(t, 0, fx.pte(data, kDataRw)).ok);
  ASSERT_TRUE(fx.store(t, 1, fx.pte(data, kDataRo | kPcd)).ok);  // cache attr: unprivileged
  ASSERT_EQ(fx.remap(t, false), kOk);
  const auto before = fx.page(data);
  EXPECT_EQ(fx.pin(1, t), kEINVAL);
  EXPECT_EQ(fx.page(data).count, before.count);
  EXPECT_EQ(fx.page(data).type_count, before.type_count);
  EXPECT_EQ(fx.page(t).type, xen::PageType::kNone);
  ASSERT_EQ(fx.remap(t, true), kOk);
  ASSERT_TRUE(fx.store(t, 1, 0).ok);
  ASSERT_EQ(fx.remap(t, false), kOk);
  EXPECT_EQ(fx.pin(1, t), kOk);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PageTypeRules, DisallowedL1FlagsAreRejected) {
  PvFixture fx;
  const Pfn data = fx.alloc();
  const Pfn t = fx.make_table();
  ASSERT_EQ(fx.pin(1, t), kOk);
  EXPECT_EQ(fx.update(t, 0, fx.pte(data, kDataRo | kPcd)), kEINVAL);
  EXPECT_EQ(fx.update(t, 0, fx.pte(data, kDataRo | kPwt)), kEINVAL);
  EXPECT_EQ(fx.update(t, 0, fx.pte(data, kDataRo) | xen::kPageGnttab), kEINVAL);
  EXPECT_EQ(fx.update(t, 0, fx.pte(data, kDataRo | kGlobal | kNx | kAvail0)), kOk);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PageTypeRules, PrivilegedDomainMayUseCacheAttributes) {
  PvFixture fx({.privileged = true});
  const Pfn data = fx.alloc();
  const Pfn t = fx.make_table();
  ASSERT_EQ(fx.pin(1, t), kOk);
  EXPECT_EQ(fx.update(t, 0, fx.pte(data, kDataRo | kPcd)), kOk);
  EXPECT_EQ(fx.update(t, 1, fx.pte(data, kDataRo) | xen::kPageGnttab), kEINVAL);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PageTypeRules, SuperpagesAreRejectedAtL2AndL3) {
  PvFixture fx;
  const Pfn l1 = fx.make_table();
  const Pfn l2 = fx.make_table();
  ASSERT_EQ(fx.pin(2, l2), kOk);
  EXPECT_EQ(fx.update(l2, 0, fx.pte(l1, kTableFlags | kPse)), kEINVAL);
  EXPECT_EQ(fx.update(l2, 0, fx.pte(l1, kTableFlags)), kOk);
  const Pfn l3 = fx.make_table();
  ASSERT_EQ(fx.pin(3, l3), kOk);
  EXPECT_EQ(fx.update(l3, 0, fx.pte(l2, kTableFlags | kPse)), kEINVAL);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PageTypeRules, UpperEntryMustPointAtTheNextLowerLevel) {
  PvFixture fx;
  const Pfn l2 = fx.make_table();
  ASSERT_EQ(fx.pin(2, l2), kOk);
  const Pfn l3 = fx.make_table();
  ASSERT_EQ(fx.pin(3, l3), kOk);
  const Pfn data = fx.alloc();
  EXPECT_EQ(fx.update(l3, 1, fx.pte(data, kTableFlags)), kEINVAL);  // writable data frame
  EXPECT_EQ(fx.update(l2, 1, fx.pte(l3, kTableFlags)), kEINVAL);    // L2 -> L3
  EXPECT_EQ(fx.update(l3, 1, fx.pte(l2, kTableFlags)), kOk);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PageTypeRules, XenReservedL4SlotsCannotBeWritten) {
  PvFixture fx;
  const Pfn l3 = fx.make_table();
  for (uint64_t slot : {256u, 258u, 271u}) {
    EXPECT_EQ(fx.update(fx.si.pt_base, slot, fx.pte(l3, kTableFlags)), kEINVAL) << slot;
  }
  EXPECT_EQ(fx.update(fx.si.pt_base, 272, fx.pte(l3, kTableFlags)), kOk);
  EXPECT_EQ(fx.update(fx.si.pt_base, 255, 0), kOk);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PageTypeRules, L4ValidationInstallsXenSlots) {
  PvFixture fx;
  const Pfn l4 = fx.alloc();
  ASSERT_TRUE(fx.store(l4, 258, 0xdead000).ok);  // junk the guest left there is overwritten
  ASSERT_EQ(fx.remap(l4, false), kOk);
  ASSERT_EQ(fx.pin(4, l4), kOk);
  const hw::Pte self{fx.load(l4, 258).value};
  EXPECT_EQ(self.mfn(), fx.mfn(l4));
  EXPECT_FALSE(self.has(kUser));
  EXPECT_EQ(fx.xen.domain(0).nr_l4_pages, 2u);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PageTypeRules, LinearPageTableEntryMustBeReadOnly) {
  PvFixture fx;
  const uint64_t self = fx.pte(fx.si.pt_base, kPresent | kUser | kAccessed);
  EXPECT_EQ(fx.update(fx.si.pt_base, 5, self | kRw), kEINVAL);
  EXPECT_EQ(fx.update(fx.si.pt_base, 5, self), kOk);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PageTypeRules, LinearPageTablesAreOneLevelOnly) {
  PvFixture fx;
  const Pfn a = fx.make_table(), b = fx.make_table(), c = fx.make_table();
  for (Pfn t : {a, b, c}) ASSERT_EQ(fx.pin(2, t), kOk);
  EXPECT_EQ(fx.update(a, 0, fx.pte(b, kPresent | kUser | kAccessed)), kOk);  // a -> b linear
  EXPECT_EQ(fx.page(a).linear_pt_count, 1);
  EXPECT_EQ(fx.page(b).linear_pt_count, -1);
  EXPECT_EQ(fx.update(b, 0, fx.pte(c, kPresent | kUser | kAccessed)), kEINVAL);  // b is a target
  EXPECT_EQ(fx.update(c, 0, fx.pte(a, kPresent | kUser | kAccessed)), kEINVAL);  // a has entries
  EXPECT_EQ(fx.update(a, 0, 0), kOk);
  EXPECT_EQ(fx.page(b).linear_pt_count, 0);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PageTypeRules, ForeignFramesCannotBeMapped) {
  PvFixture fx({.machine_frames = 8192});
  const auto other = xen::build_pv_domain(fx.xen, xen::PvDomainSpec{.pages = 512});
  fx.xen.set_port_domain(0);
  const Pfn t = fx.make_table();
  ASSERT_EQ(fx.pin(1, t), kOk);
  const Mfn foreign = other.p2m.back();
  EXPECT_EQ(fx.update(t, 0, hw::Pte::make(foreign, kDataRo).raw()), kEBUSY);
  EXPECT_EQ(fx.mmuext(abi::kMmuextPinL1Table, foreign.value), kEINVAL);  // get_page_from_gfn
  EXPECT_EQ(fx.update(t, 0, fx.pte(fx.alloc(), kDataRo)), kOk);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(PageTypeRules, FramesOutsideMemoryAreRefused) {
  PvFixture fx;
  const Pfn t = fx.make_table();
  ASSERT_EQ(fx.pin(1, t), kOk);
  EXPECT_EQ(fx.update(t, 0, hw::Pte::make(Mfn{1u << 30}, kDataRo).raw()), kEPERM)
      << "MMIO without I/O-memory permission";
  EXPECT_EQ(fx.mmuext(abi::kMmuextPinL1Table, 1u << 30), kEINVAL);
  EXPECT_EQ(fx.update(t, 0, hw::Pte::make(fx.xen.xen_l3(), kDataRo).raw()), kEBUSY)
      << "Xen's own frames";
  EXPECT_AUDIT_CLEAN(fx);
}

}  // namespace
}  // namespace pib::test
