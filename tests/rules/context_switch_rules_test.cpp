// SPDX-License-Identifier: MIT
// Which CPUs a domain's flushes reach (__context_switch, domain.c): a CPU is in the dirty_cpumask
// of the domain whose vCPU state it holds; switching to another domain's vCPU flushes the CPU
// (write_ptbase) and takes it out of the previous domain's mask, and a CPU already holding the
// vCPU does not switch at all. A type change flushes the frame owner's dirty CPUs, an XSA-286
// flush the page-table owner's: a control domain acting on a descheduled domain reaches none.
#include "support/pv_fixture.hpp"

namespace pib::test {
namespace {

using namespace hw::pte_bits;
using sim::Event;

uint64_t dirty(const PvFixture& fx, DomId id) {
  return fx.xen.domain(id).dirty_cpumask;
}

TEST(ContextSwitchRules, ACpuLeavesTheMaskOfTheDomainItSwitchesAwayFrom) {
  PvFixture fx({.machine_frames = 8192});
  const DomId mine = fx.si.domid;
  EXPECT_EQ(dirty(fx, mine), 0b1u);
  EXPECT_EQ(fx.xen.loaded_domain(0), mine);

  const auto other = xen::build_pv_domain(fx.xen, xen::PvDomainSpec{.pages = 512});
  EXPECT_EQ(fx.xen.loaded_domain(0), other.domid) << "the builder loaded the new domain";
  EXPECT_EQ(dirty(fx, other.domid), 0b1u);
  EXPECT_EQ(dirty(fx, mine), 0u) << "its state left the CPU with the flush of the switch";

  const uint64_t clock = fx.xen.tlbflush_clock();
  fx.xen.set_port_domain(mine);
  EXPECT_EQ(fx.xen.tlbflush_clock(), clock + 1) << "one CR3 write, a TLB-clock tick";
  EXPECT_EQ(dirty(fx, mine), 0b1u);
  EXPECT_EQ(dirty(fx, other.domid), 0u);
  EXPECT_EQ(fx.xen.loaded_domain(0), mine);
  EXPECT_AUDIT_CLEAN(fx);
}

// Scheduling the vCPU a CPU already holds is no context switch: no CR3 write, the TLB keeps its
// translations.
TEST(ContextSwitchRules, TheVcpuACpuHoldsIsNotLoadedAgain) {
  PvFixture fx;
  const Pfn data = fx.alloc();
  ASSERT_TRUE(fx.store(data, 0, 1).ok);
  const uint64_t clock = fx.xen.tlbflush_clock();
  const uint64_t misses = fx.count(Event::kHwTlbMiss);
  fx.xen.set_port_domain(fx.si.domid);
  EXPECT_EQ(fx.xen.tlbflush_clock(), clock);
  EXPECT_EQ(fx.load(data, 0).value, 1u);
  EXPECT_EQ(fx.count(Event::kHwTlbMiss), misses) << "the translation survived";
}

// A control domain rewrites an L4 entry of another domain's (PFD): the XSA-286 flush goes to
// the CPUs holding that domain, the remote one alone, and to no CPU when it holds none.
TEST(ContextSwitchRules, AForeignL4UpdateFlushesOnlyCpusHoldingItsOwner) {
  for (const uint32_t guest_vcpus : {2u, 1u}) {
    PvFixture dom0({.machine_frames = 8192,
                    .cpus = 2,
                    .generation = xen::XenGeneration::kModern,
                    .privileged = true});
    const auto guest =
        xen::build_pv_domain(dom0.xen, xen::PvDomainSpec{.pages = 512, .vcpus = guest_vcpus});
    dom0.xen.set_port_domain(dom0.si.domid);
    const uint64_t guest_cpus = guest_vcpus == 2 ? 0b10u : 0u;
    EXPECT_EQ(dirty(dom0, dom0.si.domid), 0b1u);
    EXPECT_EQ(dirty(dom0, guest.domid), guest_cpus) << guest_vcpus << " guest vCPUs";

    const Mfn guest_l4 = guest.p2m.at(guest.pt_base.value);
    const uint64_t slot = abi::kDirectMapSlot;
    const uint64_t same = dom0.machine.memory().read_entry(guest_l4, slot);
    const uint64_t xsa286 = dom0.count(Event::kXenTlbFlushMmuUpdate);
    const uint64_t local = dom0.count(Event::kXenTlbFlushLocal);
    const uint64_t remote = dom0.count(Event::kXenTlbFlushRemote);
    ASSERT_EQ(dom0.update_as(maddr_of(guest_l4, slot * 8).value, same,
                             abi::foreigndom_of(guest.domid, guest.domid)),
              kOk);
    EXPECT_EQ(dom0.count(Event::kXenTlbFlushMmuUpdate) - xsa286, guest_vcpus == 2 ? 1u : 0u);
    EXPECT_EQ(dom0.count(Event::kXenTlbFlushRemote) - remote, guest_vcpus == 2 ? 1u : 0u);
    EXPECT_EQ(dom0.count(Event::kXenTlbFlushLocal) - local, 0u) << "dom0's CPU holds dom0";
    EXPECT_AUDIT_CLEAN(dom0);
  }
}

// A control domain maps another domain's frame writable, writes through it, removes the mapping
// and pins the frame as that domain's L1. The type change flushes the owner's dirty CPUs, and
// the owner holds none, so the control domain's CPU keeps its writable translation: Xen trusts
// that domain with every domain's memory, and the auditor accepts it for a control domain alone.
TEST(ContextSwitchRules, AControlDomainKeepsAStaleTranslationOfAForeignFrame) {
  PvFixture dom0(
      {.machine_frames = 8192, .generation = xen::XenGeneration::kModern, .privileged = true});
  const auto guest = xen::build_pv_domain(dom0.xen, xen::PvDomainSpec{.pages = 512});
  const Pfn last{guest.nr_pages - 1};
  const Mfn frame = guest.p2m.at(last.value);
  // The guest maps its own alias of the frame read-only, then dom0 runs.
  dom0.xen.set_port_domain(guest.domid);
  const abi::UpdateVaMapping ro{abi::direct_map_va(guest, last, 0),
                                hw::Pte::make(frame, kDataRo).raw(), abi::kUvmfInvlpg, 0};
  ASSERT_EQ(dom0.xen.update_va_mapping(0, ro), kOk);
  dom0.xen.set_port_domain(dom0.si.domid);
  EXPECT_EQ(dirty(dom0, guest.domid), 0u);

  // dom0's direct-map entry of one of its pages (the builder's L1s are its last initial
  // page-table frames, one per 512 pages) now maps the guest's frame, with the guest as page
  // owner.
  const Pfn alias = dom0.alloc();
  const uint64_t first_l1 =
      dom0.si.nr_pt_frames - (dom0.si.nr_pages + kEntriesPerTable - 1) / kEntriesPerTable;
  const Pfn l1{first_l1 + alias.value / kEntriesPerTable};
  const uint64_t entry = dom0.entry(l1, alias.value % kEntriesPerTable).value;
  ASSERT_EQ(dom0.update_as(entry, hw::Pte::make(frame, kDataRw).raw(), guest.domid), kOk);
  ASSERT_EQ(dom0.mmuext(abi::kMmuextInvlpgLocal, dom0.va(alias).value), kOk);
  ASSERT_TRUE(dom0.store(alias, 0, 0).ok) << "through the foreign mapping";
  ASSERT_EQ(dom0.update_as(entry, dom0.pte(alias, kDataRw), abi::kDomidSelf), kOk);

  const uint64_t type_flushes = dom0.count(Event::kXenTlbFlushTypeChange);
  ASSERT_EQ(dom0.mmuext_as(abi::kMmuextPinL1Table, frame.value, guest.domid), kOk);
  EXPECT_EQ(dom0.xen.frame_table()[frame].type, xen::PageType::kL1);
  EXPECT_EQ(dom0.count(Event::kXenTlbFlushTypeChange), type_flushes) << "no CPU holds the guest";
  bool stale = false;
  dom0.machine.cpu(0).mmu().tlb().for_each_valid([&](const hw::TlbEntry& t) {
    if (t.mfn == frame && t.writable) stale = true;
  });
  EXPECT_TRUE(stale) << "dom0's CPU still caches the writable translation";
  EXPECT_AUDIT_CLEAN(dom0);
}

}  // namespace
}  // namespace pib::test
