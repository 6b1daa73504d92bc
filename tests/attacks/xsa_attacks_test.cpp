// SPDX-License-Identifier: MIT
// Attacks from the Xen security advisories on PV page-table handling (the XTF tests/xsa-* cases
// that apply to 64-bit PV page tables, plus XSA-148 and XSA-240, whose fixes XTF does not cover).
// Each replays the attack against the model, asserts it is refused, and audits the state.
// The attack steps are described in our own words in docs/attacks.md.
#include "support/pv_fixture.hpp"

namespace pib::test {
namespace {

using namespace hw::pte_bits;
using sim::Event;

class XsaAttack : public ::testing::TestWithParam<xen::XenGeneration> {
 protected:
  PvFixture fx{PvFixtureParams{.generation = GetParam()}};
  // Hooks a fresh pinned L3 into user slot `slot` of the running kernel L4.
  Pfn hook_l3(uint64_t slot) {
    const Pfn l3 = fx.make_table();
    EXPECT_EQ(fx.pin(3, l3), kOk);
    EXPECT_EQ(fx.update(fx.si.pt_base, slot, fx.pte(l3, kTableFlags)), kOk);
    return l3;
  }
};

// XSA-148: an L2 superpage entry would map 2 MiB of arbitrary frames — page tables included —
// without any per-frame type check.
TEST_P(XsaAttack, Xsa148_L2SuperpageMappingIsRefused) {
  const Pfn l3 = hook_l3(1);
  const Pfn l2 = fx.make_table();
  ASSERT_EQ(fx.update(l3, 0, fx.pte(l2, kTableFlags)), kOk);
  // 2 MiB aligned run starting at the domain's first frame: its L4 and the boot tables.
  const uint64_t superpage = hw::Pte::make(fx.mfn(Pfn{0}), kTableFlags | kPse).raw();
  EXPECT_EQ(fx.update(l2, 0, superpage), kEINVAL);
  const Vaddr target = hw::make_vaddr(1, 0, 0, 0);
  EXPECT_FALSE(fx.xen.guest_access(0, {target, hw::MemOp::kStore, hw::Mode::kUser, 1}).ok);
  EXPECT_EQ(fx.load(l2, 0).value, 0u);
  EXPECT_AUDIT_CLEAN(fx);
}

// XSA-167: MMUEXT_MARK_SUPER on a 2 MiB-aligned frame number far beyond memory.
TEST_P(XsaAttack, Xsa167_MarkSuperOnBogusFrameIsRefused) {
  const int64_t rc = fx.mmuext(abi::kMmuextMarkSuper, 0xffffffffffe00000ULL);
  EXPECT_NE(rc, kOk);
  EXPECT_TRUE(rc == abi::err::kENOSYS || rc == abi::err::kEOPNOTSUPP || rc == kEINVAL);
  EXPECT_AUDIT_CLEAN(fx);
}

// XSA-182: install a read-only self-map in the L4, then resend it with only RW added, hoping the
// fast path skips revalidation and yields a writable view of the live L4.
TEST_P(XsaAttack, Xsa182_WritableSelfMapThroughFastPathIsRefused) {
  const uint64_t slot = 7;
  const uint64_t ro_self = fx.pte(fx.si.pt_base, kPresent | kUser | kAccessed | kDirty);
  ASSERT_EQ(fx.update(fx.si.pt_base, slot, ro_self), kOk) << "a read-only self-map is legal";
  EXPECT_EQ(fx.update(fx.si.pt_base, slot, ro_self | kRw), kEINVAL);
  EXPECT_FALSE(hw::Pte{fx.load(fx.si.pt_base, slot).value}.has(kRw));
  // The linear view built from the self-map must stay read-only: writing slot 9 through it fails.
  const Vaddr via_self = hw::make_vaddr(slot, slot, slot, slot, 9 * 8);
  EXPECT_TRUE(fx.xen.guest_access(0, {via_self, hw::MemOp::kLoad}).ok);
  EXPECT_FALSE(
      fx.xen.guest_access(0, {via_self, hw::MemOp::kStore, hw::Mode::kUser, 0xdeadf00d}).ok);
  EXPECT_EQ(fx.load(fx.si.pt_base, 9).value, 0u);
  EXPECT_AUDIT_CLEAN(fx);
}

// XSA-182 at L3: same trick one level down, with a linear L3 -> L3 entry.
TEST_P(XsaAttack, Xsa182_WritableLinearL3ThroughFastPathIsRefused) {
  const Pfn l3 = hook_l3(2);
  const uint64_t ro_self = fx.pte(l3, kPresent | kUser | kAccessed);
  ASSERT_EQ(fx.update(l3, 4, ro_self), kOk);
  EXPECT_EQ(fx.update(l3, 4, ro_self | kRw), kEINVAL);
  EXPECT_AUDIT_CLEAN(fx);
}

// XSA-213: a multicall whose first entry is an iret to user mode must end there.
TEST_P(XsaAttack, Xsa213_MulticallStopsAtIret) {
  const Pfn user = fx.make_table();
  ASSERT_EQ(fx.pin(4, user), kOk);
  ASSERT_EQ(fx.mmuext(abi::kMmuextNewUserBaseptr, fx.mfn(user).value), kOk);
  const Pfn victim = fx.make_table();
  std::vector<abi::MulticallEntry> mc(2);
  mc[0].op = abi::HypercallNr::kIret;
  mc[1].op = abi::HypercallNr::kMmuextOp;
  mc[1].mmuext_ops = {{abi::kMmuextPinL1Table, fx.mfn(victim).value, 0}};
  mc[1].result = 0x5a5a;
  fx.xen.multicall(0, mc);
  EXPECT_EQ(mc[1].result, 0x5a5a) << "the entry after the iret ran";
  EXPECT_FALSE(fx.page(victim).pinned);
  EXPECT_FALSE(fx.xen.domain(0).vcpus[0].in_kernel);
  EXPECT_AUDIT_CLEAN(fx);
}

// XSA-224/XSA-234 (their pass criterion): a frame that still has a writable mapping somewhere
// must not become a page table, however the guest arranged the mappings.
TEST_P(XsaAttack, Xsa224_PinOfFrameWithLiveWritableMappingIsRefused) {
  const Pfn frame = fx.alloc();
  ASSERT_EQ(fx.remap(frame, false), kOk);  // direct-map alias read-only...
  const Pfn l1 = fx.make_table();
  ASSERT_EQ(fx.pin(1, l1), kOk);
  ASSERT_EQ(fx.update(l1, 0, fx.pte(frame, kDataRw)), kOk);  // ...but writable elsewhere
  EXPECT_EQ(fx.pin(1, frame), kEINVAL);
  EXPECT_EQ(fx.pin(2, frame), kEINVAL);
  ASSERT_EQ(fx.update(l1, 0, 0), kOk);
  EXPECT_EQ(fx.pin(1, frame), kOk) << "once the last writable mapping is gone";
  EXPECT_AUDIT_CLEAN(fx);
}

// XSA-240: chains of linear page tables (a linear target that itself holds linear entries) let
// a guest keep references to tables it then frees and rewrites.
TEST_P(XsaAttack, Xsa240_LinearPageTableChainsAreRefused) {
  const Pfn l3 = hook_l3(3);
  const Pfn a = fx.make_table(), b = fx.make_table(), c = fx.make_table();
  for (Pfn t : {a, b, c}) ASSERT_EQ(fx.pin(2, t), kOk);
  const uint64_t ro = kPresent | kUser | kAccessed;
  ASSERT_EQ(fx.update(b, 1, fx.pte(c, ro)), kOk);      // b holds a linear entry to c
  EXPECT_EQ(fx.update(a, 1, fx.pte(b, ro)), kEINVAL);  // a -> b -> c would be two levels
  EXPECT_EQ(fx.update(c, 1, fx.pte(a, ro)), kEINVAL);  // c is a linear target already
  ASSERT_EQ(fx.update(l3, 0, fx.pte(b, kTableFlags)), kOk);
  EXPECT_AUDIT_CLEAN(fx);
}

// XSA-279: update_va_mapping on a non-canonical address with a flush request.
TEST_P(XsaAttack, Xsa279_NonCanonicalUpdateVaMappingIsRefusedWithoutFlush) {
  const uint64_t flushes = fx.count(Event::kXenInvlpgLocal) + fx.count(Event::kXenInvlpgRemote) +
                           fx.count(Event::kXenTlbFlushLocal);
  const int64_t rc = fx.xen.update_va_mapping(
      0, {.va = Vaddr{uint64_t{1} << 63}, .val = 0, .flags = abi::kUvmfInvlpg | abi::kUvmfAll});
  EXPECT_EQ(rc, kEINVAL);
  EXPECT_EQ(fx.count(Event::kXenInvlpgLocal) + fx.count(Event::kXenInvlpgRemote) +
                fx.count(Event::kXenTlbFlushLocal),
            flushes);
  // Xen's own range is refused as well.
  EXPECT_EQ(fx.xen.update_va_mapping(0, {.va = hw::make_vaddr(260, 0, 0, 0), .val = 0}), kEINVAL);
  EXPECT_AUDIT_CLEAN(fx);
}

INSTANTIATE_TEST_SUITE_P(Generations, XsaAttack,
                         ::testing::Values(xen::XenGeneration::kPaperEra,
                                           xen::XenGeneration::kModern),
                         [](const ::testing::TestParamInfo<xen::XenGeneration>& param) {
                           return param.param == xen::XenGeneration::kModern ? "Modern"
                                                                             : "PaperEra";
                         });

// XSA-286: update_va_mapping finds the L1 through Xen's linear page table. If an mmu_update in
// the same batch retargets an L3 entry without a TLB flush, a later update_va_mapping lands in
// the *old* L1. The XTF sequence, 15 rounds; fixed Xen (4.15+) leaves the old L1 untouched.
struct Xsa286Setup {
  Pfn l1t1, l1t2, l2t1, l2t2, l3t, data;
};

Xsa286Setup xsa286_setup(PvFixture& fx) {
  Xsa286Setup s{fx.alloc(), fx.alloc(), fx.alloc(), fx.alloc(), Pfn{}, fx.alloc()};
  EXPECT_TRUE(fx.store(s.l2t1, 0, fx.pte(s.l1t1, kTableFlags)).ok);
  EXPECT_TRUE(fx.store(s.l2t2, 0, fx.pte(s.l1t2, kTableFlags)).ok);
  for (Pfn p : {s.l1t1, s.l1t2, s.l2t1, s.l2t2}) EXPECT_EQ(fx.remap(p, false), kOk);
  EXPECT_EQ(fx.pin(2, s.l2t1), kOk);
  EXPECT_EQ(fx.pin(2, s.l2t2), kOk);
  s.l3t = fx.make_table();
  EXPECT_EQ(fx.pin(3, s.l3t), kOk);
  EXPECT_EQ(fx.update(fx.si.pt_base, 0, fx.pte(s.l3t, kTableFlags)), kOk);
  return s;
}

// Runs one XTF round; returns the value found afterwards in the old L1's entry 0.
uint64_t xsa286_round(PvFixture& fx, const Xsa286Setup& s) {
  const std::vector<abi::MmuUpdate> reset{
      abi::make_mmu_update(fx.entry(s.l3t, 1), fx.pte(s.l2t1, kTableFlags)),
      abi::make_mmu_update(fx.entry(s.l1t1, 0), 0), abi::make_mmu_update(fx.entry(s.l1t2, 0), 0)};
  uint32_t done = 0;
  EXPECT_EQ(fx.xen.mmu_update(0, reset, &done, abi::kDomidSelf), kOk);
  const Vaddr one_gib{uint64_t{1} << 30};
  std::vector<abi::MulticallEntry> mc(3);
  mc[0].op = abi::HypercallNr::kUpdateVaMapping;
  mc[0].uvm = {.va = one_gib, .val = 0, .flags = abi::kUvmfInvlpg};
  mc[1].op = abi::HypercallNr::kMmuUpdate;
  mc[1].mmu_updates = {abi::make_mmu_update(fx.entry(s.l3t, 1), fx.pte(s.l2t2, kTableFlags))};
  mc[2].op = abi::HypercallNr::kUpdateVaMapping;
  mc[2].uvm = {.va = one_gib, .val = fx.pte(s.data, kDataRw | kUser), .flags = abi::kUvmfInvlpg};
  EXPECT_EQ(fx.xen.multicall(0, mc), kOk);
  for (const auto& e : mc) EXPECT_EQ(e.result, kOk);
  return fx.load(s.l1t1, 0).value;
}

TEST(Xsa286, ModernXenFlushesLinearTranslationsAfterUpperUpdates) {
  PvFixture fx({.generation = xen::XenGeneration::kModern});
  const Xsa286Setup s = xsa286_setup(fx);
  for (int round = 0; round < 15; ++round) {
    EXPECT_EQ(xsa286_round(fx, s), 0u) << "round " << round << ": update landed in the old L1";
    EXPECT_EQ(hw::Pte{fx.load(s.l1t2, 0).value}.mfn(), fx.mfn(s.data));
  }
  EXPECT_AUDIT_CLEAN(fx);
}

// The model is faithful enough to reproduce the bug on Xen without the fix: this is what makes
// the flush in the modern generation meaningful rather than decorative.
TEST(Xsa286, PaperEraWithoutTheFixWritesThroughTheStaleTranslation) {
  PvFixture fx({.generation = xen::XenGeneration::kPaperEra});
  const Xsa286Setup s = xsa286_setup(fx);
  EXPECT_NE(xsa286_round(fx, s), 0u);
  // References stay consistent; the write just went to the wrong table.
  EXPECT_AUDIT_CLEAN(fx);
}

}  // namespace
}  // namespace pib::test
