// SPDX-License-Identifier: MIT
// mmu_update's page owner (foreigndom) as Xen answers it: the dummy XSM policy lets a control
// domain act on another domain's pages and lets anyone name DOMID_IO; get_page_from_l1e then
// maps only frames of the page owner (so a control domain can map another domain's frames,
// with that domain's references and type changes); since 4.11 an L2-L4 update naming a
// foreign owner is refused, before it the owner was ignored. The XSM check comes at the first
// request that needs it, so an unknown command before it is -ENOSYS.
#include "pibooster/xen/pt_pool_validation.hpp"
#include "support/pv_fixture.hpp"

namespace pib::test {
namespace {

using namespace hw::pte_bits;

constexpr int64_t kENOSYS = abi::err::kENOSYS;

// DOMID_IO passes XSM for anyone: non-present entries and plain stores are written, a RAM frame
// is not the I/O pseudo-domain's (-EBUSY), MMIO still needs the caller's permission (-EPERM).
TEST(ForeignOwnerRules, DomidIoMapsNoRam) {
  PvFixture fx;
  const Pfn data = fx.alloc();
  const Pfn l1 = fx.make_table();
  ASSERT_EQ(fx.pin(1, l1), kOk);
  EXPECT_EQ(fx.update_as(fx.entry(l1, 0).value, 0x1000, abi::kDomidIo), kOk) << "not present";
  EXPECT_EQ(fx.update_as(fx.entry(l1, 1).value, fx.pte(data, kDataRo), abi::kDomidIo), kEBUSY);
  const uint64_t beyond_ram = fx.machine.memory().frame_count() + 16;
  EXPECT_EQ(fx.update_as(fx.entry(l1, 2).value, hw::Pte::make(Mfn{beyond_ram}, kDataRo).raw(),
                         abi::kDomidIo),
            kEPERM);
  EXPECT_EQ(fx.update_as(fx.entry(data, 3).value, 7, abi::kDomidIo), kOk) << "writable page";
  EXPECT_EQ(fx.load(data, 3).value, 7u);
  EXPECT_EQ(fx.load(l1, 0).value, 0x1000u);
  EXPECT_EQ(fx.load(l1, 1).value, 0u);
  const uint64_t machphys = fx.entry(data, 0).value | abi::kMmuMachphysUpdate;
  EXPECT_EQ(fx.update_as(machphys, 5, abi::kDomidIo), kEINVAL) << "no frame is dom_io's";
  EXPECT_AUDIT_CLEAN(fx);
}

// The XSM check runs at the first page-table or machphys request: an unknown command first is
// -ENOSYS even with a page owner the caller may not name.
TEST(ForeignOwnerRules, XsmCheckComesWithTheFirstRequestNeedingIt) {
  PvFixture fx({.machine_frames = 8192});
  const auto other = xen::build_pv_domain(fx.xen, xen::PvDomainSpec{.pages = 512});
  fx.xen.set_port_domain(0);
  const Pfn data = fx.alloc();
  EXPECT_EQ(fx.update_as(fx.entry(data, 0).value | 5, 1, other.domid), kENOSYS);
  EXPECT_EQ(fx.update_as(fx.entry(data, 0).value, 1, other.domid), kEPERM);
  EXPECT_EQ(fx.load(data, 0).value, 0u);
}

// An L2-L4 update naming a foreign page owner: -EINVAL on modern Xen, performed under the
// caller's own rules on paper-era Xen (4.8), which ignored the owner there.
TEST(ForeignOwnerRules, UpperUpdateWithForeignOwner) {
  for (const auto g : {xen::XenGeneration::kPaperEra, xen::XenGeneration::kModern}) {
    PvFixture fx({.generation = g});
    const Pfn l1 = fx.make_table();
    ASSERT_EQ(fx.pin(1, l1), kOk);
    const Pfn l2 = fx.make_table();
    ASSERT_EQ(fx.pin(2, l2), kOk);
    const int64_t rc = fx.update_as(fx.entry(l2, 0).value, fx.pte(l1, kTableFlags), abi::kDomidIo);
    if (g == xen::XenGeneration::kModern) {
      EXPECT_EQ(rc, kEINVAL);
      EXPECT_EQ(fx.load(l2, 0).value, 0u);
    } else {
      EXPECT_EQ(rc, kOk);
      EXPECT_NE(fx.load(l2, 0).value, 0u);
    }
    EXPECT_AUDIT_CLEAN(fx);
  }
}

// A control domain naming another domain maps that domain's frames: the references (and a
// writable mapping's type reference) are on the other domain's frame, which cannot then become
// a page table of its owner; its own frames cannot be named that way (-EBUSY). Unmapping gives
// the references back, and the auditor counts them across domains throughout.
TEST(ForeignOwnerRules, ControlDomainMapsAnotherDomainsFrames) {
  PvFixture dom0({.machine_frames = 8192, .privileged = true});
  const auto guest = xen::build_pv_domain(dom0.xen, xen::PvDomainSpec{.pages = 512});
  dom0.xen.set_port_domain(dom0.si.domid);
  const Mfn theirs = guest.p2m.at(guest.p2m.size() - 1);
  const xen::PageInfo& pg = dom0.xen.frame_table()[theirs];
  const uint64_t count_before = pg.count;
  const Pfn own = dom0.alloc();
  const Pfn l1 = dom0.make_table();
  ASSERT_EQ(dom0.pin(1, l1), kOk);
  const uint64_t rw = hw::Pte::make(theirs, kDataRw).raw();
  EXPECT_EQ(dom0.update_as(dom0.entry(l1, 0).value, rw, abi::kDomidSelf), kEBUSY) << "not ours";
  EXPECT_EQ(dom0.update_as(dom0.entry(l1, 0).value, rw, guest.domid), kOk);
  EXPECT_EQ(pg.owner, guest.domid);
  EXPECT_EQ(pg.count, count_before + 1);
  EXPECT_EQ(pg.type, xen::PageType::kWritable);
  EXPECT_GE(pg.type_count, 1u);
  EXPECT_EQ(dom0.update_as(dom0.entry(l1, 1).value, dom0.pte(own, kDataRo), guest.domid), kEBUSY)
      << "dom0's own frame is not the guest's";
  EXPECT_AUDIT_CLEAN(dom0);
  EXPECT_EQ(dom0.update_as(dom0.entry(l1, 0).value, 0, abi::kDomidSelf), kOk);
  EXPECT_EQ(pg.count, count_before);
  EXPECT_AUDIT_CLEAN(dom0);
}

// The guest's last page made ready to be a table: the guest itself maps its direct-map alias
// read-only, then dom0 runs again. Returns the frame's MFN.
Mfn guest_frame_made_read_only(PvFixture& dom0, const abi::StartInfo& guest) {
  dom0.xen.set_port_domain(guest.domid);
  const Pfn last{guest.nr_pages - 1};
  const Mfn frame = guest.p2m.at(last.value);
  const abi::UpdateVaMapping ro{abi::direct_map_va(guest, last, 0),
                                hw::Pte::make(frame, kDataRo).raw(), abi::kUvmfInvlpg, 0};
  EXPECT_EQ(dom0.xen.update_va_mapping(0, ro), kOk);
  dom0.xen.set_port_domain(dom0.si.domid);
  return frame;
}

// do_mmuext_op with a foreign page owner (xsm_mmuext_op: a control domain only, no DOMID_IO
// exception). A control domain pins and unpins another domain's tables, validated as that
// domain's (the domain builder's path); the ops that concern the caller itself are -EPERM;
// DOMID_IO and DOMID_XEN own no frame to pin (-EINVAL).
TEST(ForeignOwnerRules, ControlDomainPinsAnotherDomainsTables) {
  PvFixture dom0({.machine_frames = 8192, .privileged = true});
  const auto guest = xen::build_pv_domain(dom0.xen, xen::PvDomainSpec{.pages = 512});
  // The table to be: the guest's last page, which the guest maps read-only first.
  const Mfn table = guest_frame_made_read_only(dom0, guest);
  const xen::PageInfo& pg = dom0.xen.frame_table()[table];
  EXPECT_EQ(dom0.mmuext_as(abi::kMmuextPinL1Table, table.value, abi::kDomidSelf), kEINVAL)
      << "not dom0's frame";
  EXPECT_EQ(dom0.mmuext_as(abi::kMmuextPinL1Table, table.value, guest.domid), kOk);
  EXPECT_TRUE(pg.pinned);
  EXPECT_EQ(pg.type, xen::PageType::kL1);
  EXPECT_EQ(pg.owner, guest.domid);
  EXPECT_AUDIT_CLEAN(dom0);
  EXPECT_EQ(dom0.mmuext_as(abi::kMmuextTlbFlushLocal, 0, guest.domid), kEPERM);
  EXPECT_EQ(dom0.mmuext_as(abi::kMmuextNewBaseptr, table.value, guest.domid), kEPERM);
  EXPECT_EQ(dom0.mmuext_as(abi::kMmuextPinL1Table, table.value, abi::kDomidIo), kEINVAL);
  EXPECT_EQ(dom0.mmuext_as(abi::kMmuextUnpinTable, table.value, guest.domid), kOk);
  EXPECT_FALSE(pg.pinned);
  EXPECT_AUDIT_CLEAN(dom0);

  // An unprivileged caller may name no foreign owner at all, DOMID_IO included.
  PvFixture fx({.machine_frames = 8192});
  const auto other = xen::build_pv_domain(fx.xen, xen::PvDomainSpec{.pages = 512});
  fx.xen.set_port_domain(fx.si.domid);
  EXPECT_EQ(fx.mmuext_as(abi::kMmuextTlbFlushLocal, 0, other.domid), kEPERM);
  EXPECT_EQ(fx.mmuext_as(abi::kMmuextTlbFlushLocal, 0, abi::kDomidIo), kEPERM);
}

// The page-table pool's commands (a validation policy's own interface) concern the caller's
// own frames and pool: a control domain naming another domain as page owner is refused (-EPERM)
// as for the other caller-only ops, and with Xen's own validation the command is unknown
// whoever the owner (-ENOSYS). The owner's frame is left as it was.
TEST(ForeignOwnerRules, PoolCommandsConcernTheCallerAlone) {
  for (const bool pool : {false, true}) {
    PvFixtureParams params{
        .machine_frames = 8192, .privileged = true, .iommu = xen::IommuMode::kSync};
    if (pool) params.policy = [] { return std::make_unique<pibooster::PtPoolValidation>(); };
    PvFixture dom0(params);
    const auto guest = xen::build_pv_domain(
        dom0.xen, xen::PvDomainSpec{.pages = 512, .iommu = xen::IommuMode::kSync});
    dom0.xen.set_port_domain(dom0.si.domid);
    const Mfn theirs = guest.p2m.at(guest.nr_pages - 1);
    const int64_t foreign_answer = pool ? kEPERM : abi::err::kENOSYS;
    EXPECT_EQ(dom0.mmuext_as(abi::kMmuextPtPoolAdd, theirs.value, guest.domid), foreign_answer);
    EXPECT_EQ(dom0.mmuext_as(abi::kMmuextPtPoolRemove, theirs.value, guest.domid), foreign_answer);
    EXPECT_FALSE(dom0.xen.frame_table()[theirs].dma_revoked);
    const Pfn own = dom0.make_table();
    EXPECT_EQ(dom0.mmuext_as(abi::kMmuextPtPoolAdd, dom0.mfn(own).value, abi::kDomidSelf),
              pool ? kOk : abi::err::kENOSYS);
    EXPECT_EQ(dom0.page(own).dma_revoked, pool);
    EXPECT_AUDIT_CLEAN(dom0);
  }
}

// The auditor tells a foreign mapping from a stray one: an unprivileged domain's L1 that
// references another domain's frame (written behind Xen's back) is reported.
TEST(ForeignOwnerRules, AuditorFlagsForeignFrameInUnprivilegedTable) {
  PvFixture fx({.machine_frames = 8192});
  const auto guest = xen::build_pv_domain(fx.xen, xen::PvDomainSpec{.pages = 512});
  fx.xen.set_port_domain(fx.si.domid);
  const Pfn l1 = fx.make_table();
  ASSERT_EQ(fx.pin(1, l1), kOk);
  const Mfn theirs = guest.p2m.at(guest.p2m.size() - 1);
  fx.machine.memory().write_entry(fx.mfn(l1), 0, hw::Pte::make(theirs, kDataRo).raw());
  const auto problems = fx.audit();
  ASSERT_FALSE(problems.empty());
  EXPECT_NE(problems.front().find("does not own"), std::string::npos) << problems.front();
}

// mmu_update's page-table owner (PFD: foreigndom's high half is 1 + its id). A missing one is
// -ESRCH before any request; XSM lets only a control domain name another's tables (-EPERM at
// the first request); a machphys update must come from the page-table owner itself (-EPERM).
TEST(ForeignOwnerRules, PageTableOwnerChecks) {
  PvFixture fx({.machine_frames = 8192});
  const auto guest = xen::build_pv_domain(fx.xen, xen::PvDomainSpec{.pages = 512});
  fx.xen.set_port_domain(fx.si.domid);
  const Pfn data = fx.alloc();
  const Mfn theirs = guest.p2m.at(guest.nr_pages - 1);
  const uint64_t their_entry = maddr_of(theirs, 0).value;
  EXPECT_EQ(fx.update_as(fx.entry(data, 0).value, 1, abi::foreigndom_of(0x7ffe, abi::kDomidSelf)),
            abi::err::kESRCH);
  EXPECT_EQ(fx.update_as(their_entry, 1, abi::foreigndom_of(guest.domid, abi::kDomidSelf)), kEPERM)
      << "an unprivileged caller may not name another domain's tables";
  EXPECT_EQ(
      fx.update_as(fx.entry(data, 0).value, 7, abi::foreigndom_of(fx.si.domid, abi::kDomidSelf)),
      kOk)
      << "its own, named: as without";
  EXPECT_EQ(fx.load(data, 0).value, 7u);

  PvFixture dom0({.machine_frames = 8192, .privileged = true});
  const auto other = xen::build_pv_domain(dom0.xen, xen::PvDomainSpec{.pages = 512});
  dom0.xen.set_port_domain(dom0.si.domid);
  const Mfn other_data = other.p2m.at(other.nr_pages - 1);
  EXPECT_EQ(dom0.update_as(maddr_of(other_data, 0).value | abi::kMmuMachphysUpdate, 5,
                           abi::foreigndom_of(other.domid, other.domid)),
            kEPERM)
      << "machphys only for the caller's own tables";
}

// A control domain updates another domain's page tables (PFD), as a domain builder does: the
// table is that domain's and is updated under its rules, with the page owner's frames. The
// same request without the page-table owner names a table that is not the caller's
// (-EINVAL). With the caller as page owner it puts its own frame into the other domain's L1,
// which Xen allows and the auditor accepts; an L2 update whose page owner is not the
// page-table owner is -EINVAL on modern Xen.
TEST(ForeignOwnerRules, ControlDomainUpdatesAnotherDomainsTables) {
  for (const auto gen : {xen::XenGeneration::kPaperEra, xen::XenGeneration::kModern}) {
    PvFixture dom0({.machine_frames = 8192, .generation = gen, .privileged = true});
    const auto guest = xen::build_pv_domain(dom0.xen, xen::PvDomainSpec{.pages = 512});
    // The guest's last page, mapped read-only by the guest and pinned by dom0 as its L1.
    const Mfn table = guest_frame_made_read_only(dom0, guest);
    ASSERT_EQ(dom0.mmuext_as(abi::kMmuextPinL1Table, table.value, guest.domid), kOk);

    const Mfn guest_data = guest.p2m.at(guest.nr_pages - 2);
    const xen::PageInfo& gd = dom0.xen.frame_table()[guest_data];
    const uint32_t count_before = gd.count;
    const uint64_t entry0 = maddr_of(table, 0).value;
    const uint64_t map_guest_data = hw::Pte::make(guest_data, kDataRo).raw();
    EXPECT_EQ(dom0.update_as(entry0, map_guest_data, guest.domid), kEINVAL)
        << name_of(gen) << ": the table is not dom0's";
    EXPECT_EQ(dom0.update_as(entry0, map_guest_data, abi::foreigndom_of(guest.domid, guest.domid)),
              kOk)
        << name_of(gen);
    EXPECT_EQ(gd.count, count_before + 1) << name_of(gen) << ": the guest's reference";
    EXPECT_AUDIT_CLEAN(dom0);

    const Pfn mine = dom0.alloc();
    const xen::PageInfo& m = dom0.page(mine);
    EXPECT_EQ(dom0.update_as(maddr_of(table, 8).value, dom0.pte(mine, kDataRw),
                             abi::foreigndom_of(guest.domid, abi::kDomidSelf)),
              kOk)
        << name_of(gen) << ": dom0's own frame into the guest's table";
    EXPECT_EQ(m.type, xen::PageType::kWritable);
    EXPECT_AUDIT_CLEAN(dom0);
    EXPECT_EQ(dom0.update_as(maddr_of(table, 8).value, 0,
                             abi::foreigndom_of(guest.domid, abi::kDomidSelf)),
              kOk);

    // The guest's root L4, pinned by the builder: an entry naming dom0 as page owner.
    const Mfn guest_l4 = guest.p2m.at(guest.pt_base.value);
    const int64_t rc =
        dom0.update_as(maddr_of(guest_l4, 0).value, hw::Pte::make(table, kTableFlags).raw(),
                       abi::foreigndom_of(guest.domid, abi::kDomidSelf));
    if (gen == xen::XenGeneration::kModern) {
      EXPECT_EQ(rc, kEINVAL) << "page owner is not the page-table owner";
    } else {
      EXPECT_NE(rc, kOk) << "paper-era: the guest's rules (an L1 is no L3)";
    }
    EXPECT_AUDIT_CLEAN(dom0);
  }
}

// With page owner and page-table owner both foreign, a control domain puts a third domain's
// frame into another domain's L1 (get_page_from_l1e takes the page owner's reference; nothing
// asks that the two domains be related). The auditor accepts the entry because a control
// domain exists.
TEST(ForeignOwnerRules, ControlDomainPutsAThirdDomainsFrameIntoAnothersTable) {
  PvFixture dom0({.machine_frames = 8192, .privileged = true});
  const auto guest = xen::build_pv_domain(dom0.xen, xen::PvDomainSpec{.pages = 512});
  const auto third = xen::build_pv_domain(dom0.xen, xen::PvDomainSpec{.pages = 512});
  const Mfn table = guest_frame_made_read_only(dom0, guest);
  ASSERT_EQ(dom0.mmuext_as(abi::kMmuextPinL1Table, table.value, guest.domid), kOk);
  const Mfn theirs = third.p2m.at(third.nr_pages - 1);
  const xen::PageInfo& pg = dom0.xen.frame_table()[theirs];
  const uint32_t count_before = pg.count;
  EXPECT_EQ(dom0.update_as(maddr_of(table, 0).value, hw::Pte::make(theirs, kDataRo).raw(),
                           abi::foreigndom_of(guest.domid, third.domid)),
            kOk);
  EXPECT_EQ(pg.count, count_before + 1) << "the third domain's frame, referenced";
  EXPECT_EQ(pg.owner, third.domid);
  EXPECT_AUDIT_CLEAN(dom0);
}

}  // namespace
}  // namespace pib::test
