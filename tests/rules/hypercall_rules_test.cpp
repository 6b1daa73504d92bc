// SPDX-License-Identifier: MIT
// Rules of the hypercalls themselves: fast and slow paths, partial success, deferred puts,
// flushes, base pointers, trapped writes and multicall.
#include "support/pv_fixture.hpp"

namespace pib::test {
namespace {

using namespace hw::pte_bits;
using sim::Event;

TEST(HypercallRules, FastPathOnlyForWhitelistedFlagChanges) {
  PvFixture fx;
  const Pfn data = fx.alloc();
  const Pfn t = fx.make_table();
  ASSERT_EQ(fx.pin(1, t), kOk);
  ASSERT_EQ(fx.update(t, 0, fx.pte(data, kDataRo | kUser)), kOk);
  const uint64_t slow = fx.count(Event::kXenModEntrySlow);
  EXPECT_EQ(fx.update(t, 0, fx.pte(data, kDataRo | kUser | kNx)), kOk);
  EXPECT_EQ(fx.count(Event::kXenModEntryFast), 1u) << "NX is whitelisted";
  EXPECT_EQ(fx.update(t, 0, fx.pte(data, kDataRw | kUser | kNx)), kOk);
  EXPECT_EQ(fx.count(Event::kXenModEntrySlow), slow + 1) << "RW changes take the slow path";
  EXPECT_EQ(fx.page(data).type_count, 2u);  // direct map + this entry
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(HypercallRules, MmuUpdateReportsPartialSuccess) {
  PvFixture fx;
  const Pfn data = fx.alloc();
  const Pfn t = fx.make_table();
  ASSERT_EQ(fx.pin(1, t), kOk);
  const std::vector<abi::MmuUpdate> reqs{
      abi::make_mmu_update(fx.entry(t, 0), fx.pte(data, kDataRo)),
      abi::make_mmu_update(fx.entry(t, 1), fx.pte(data, kDataRo)),
      abi::make_mmu_update(fx.entry(t, 2), fx.pte(t, kDataRw)),  // refused
      abi::make_mmu_update(fx.entry(t, 3), fx.pte(data, kDataRo)),
  };
  uint32_t done = 99;
  EXPECT_EQ(fx.xen.mmu_update(0, reqs, &done, abi::kDomidSelf), kEBUSY);
  EXPECT_EQ(done, 2u);
  EXPECT_EQ(fx.load(t, 3).value, 0u) << "nothing after the failed request ran";
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(HypercallRules, UnknownMmuUpdateCommandIsENOSYS) {
  PvFixture fx;
  const Pfn t = fx.alloc();
  const abi::MmuUpdate req{fx.entry(t, 0).value | 4, 7};
  uint32_t done = 0;
  EXPECT_EQ(fx.xen.mmu_update(0, std::span(&req, 1), &done, abi::kDomidSelf), abi::err::kENOSYS);
  EXPECT_EQ(fx.load(t, 0).value, 0u);
}

TEST(HypercallRules, PoolCommandsAreUnknownToXenItself) {
  // MMUEXT_PT_POOL_ADD/REMOVE belong to PiBooster's validation policy; Xen's own answers
  // -ENOSYS and changes nothing.
  PvFixture fx;
  const Pfn t = fx.alloc();
  for (const uint32_t cmd : {abi::kMmuextPtPoolAdd, abi::kMmuextPtPoolRemove}) {
    const abi::MmuextOp op{cmd, fx.mfn(t).value, 0};
    uint32_t done = 0;
    EXPECT_EQ(fx.xen.mmuext_op(0, std::span(&op, 1), &done, abi::kDomidSelf), abi::err::kENOSYS);
    EXPECT_EQ(done, 0u);
  }
  EXPECT_FALSE(fx.xen.frame_table()[fx.mfn(t)].dma_revoked);
  EXPECT_EQ(fx.xen.validation_policy().name(), "combined");
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(HypercallRules, MmuUpdateToUnpinnedFrameIsAPlainStore) {
  PvFixture fx;
  const Pfn t = fx.alloc();
  EXPECT_EQ(fx.update(t, 7, 0x1234567), kOk);  // junk is fine: it is not a page table
  EXPECT_EQ(fx.load(t, 7).value, 0x1234567u);
  EXPECT_EQ(fx.count(Event::kXenWritableMmuUpdate), 1u);
}

TEST(HypercallRules, MachphysUpdateOnlyForOwnFrames) {
  PvFixture fx({.machine_frames = 8192});
  const Pfn p = fx.alloc();
  const abi::MmuUpdate ok{maddr_of(fx.mfn(p)).value | abi::kMmuMachphysUpdate, 4242};
  uint32_t done = 0;
  EXPECT_EQ(fx.xen.mmu_update(0, std::span(&ok, 1), &done, abi::kDomidSelf), kOk);
  EXPECT_EQ(fx.xen.machine_to_phys(fx.mfn(p)), Pfn{4242});
  const auto other = xen::build_pv_domain(fx.xen, xen::PvDomainSpec{.pages = 512});
  fx.xen.set_port_domain(0);
  const abi::MmuUpdate bad{maddr_of(other.p2m[100]).value | abi::kMmuMachphysUpdate, 1};
  EXPECT_EQ(fx.xen.mmu_update(0, std::span(&bad, 1), &done, abi::kDomidSelf), kEINVAL);
}

TEST(HypercallRules, NewBaseptrNeedsAValidL4) {
  PvFixture fx;
  const Pfn l3 = fx.make_table();
  EXPECT_EQ(fx.mmuext(abi::kMmuextNewBaseptr, fx.mfn(l3).value), kOk)
      << "an empty frame validates as an L4";
  const Pfn data = fx.alloc();
  EXPECT_EQ(fx.mmuext(abi::kMmuextNewBaseptr, fx.mfn(data).value), kEINVAL)
      << "writable frame cannot become an L4";
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(HypercallRules, BasePointersHoldTypeReferences) {
  PvFixture fx;
  const Pfn user = fx.make_table();
  ASSERT_EQ(fx.pin(4, user), kOk);
  ASSERT_EQ(fx.mmuext(abi::kMmuextNewUserBaseptr, fx.mfn(user).value), kOk);
  EXPECT_EQ(fx.page(user).type_count, 2u);
  ASSERT_EQ(fx.unpin(user), kOk);
  EXPECT_TRUE(fx.page(user).validated) << "still in use as the user base pointer";
  EXPECT_EQ(fx.remap(user, true), kEBUSY);
  ASSERT_EQ(fx.mmuext(abi::kMmuextNewUserBaseptr, 0), kOk);
  EXPECT_FALSE(fx.page(user).validated);
  EXPECT_EQ(fx.remap(user, true), kOk);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(HypercallRules, TrappedWriteToL1IsEmulated) {
  PvFixture fx;
  const Pfn data = fx.alloc();
  const Pfn t = fx.make_table();
  ASSERT_EQ(fx.pin(1, t), kOk);
  const auto r = fx.store(t, 9, fx.pte(data, kDataRo));  // a native store into a RO L1
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(fx.count(Event::kXenPtwrEmulated), 1u);
  EXPECT_EQ(hw::Pte{fx.load(t, 9).value}.mfn(), fx.mfn(data));
  // An emulated write is validated like a hypercall: mapping the table itself RW is refused.
  const auto bad = fx.store(t, 10, fx.pte(t, kDataRw));
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(fx.count(Event::kXenFaultBounced), 1u);
  // xchg-style clear (ptep_get_and_clear) returns the old value and drops the reference.
  const auto old =
      fx.xen.guest_access(0, hw::MemRequest{fx.va(t, 9), hw::MemOp::kXchg, hw::Mode::kUser, 0});
  EXPECT_TRUE(old.ok);
  EXPECT_EQ(hw::Pte{old.value}.mfn(), fx.mfn(data));
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(HypercallRules, TrappedWriteToUpperTableIsReflected) {
  PvFixture fx;
  const Pfn l2 = fx.make_table();
  ASSERT_EQ(fx.pin(2, l2), kOk);
  const Pfn l1 = fx.make_table();
  EXPECT_FALSE(fx.store(l2, 0, fx.pte(l1, kTableFlags)).ok);
  EXPECT_EQ(fx.count(Event::kXenPtwrEmulated), 0u);
  EXPECT_EQ(fx.count(Event::kXenFaultBounced), 1u);
  EXPECT_EQ(fx.load(l2, 0).value, 0u);
}

TEST(HypercallRules, TypeChangeFlushesOnlyWhenTheTlbClockSaysSo) {
  PvFixture fx;
  const Pfn a = fx.alloc();
  ASSERT_EQ(fx.remap(a, false), kOk);  // last writable use ends now: stamped with the clock
  const uint64_t flushes = fx.count(Event::kXenTlbFlushTypeChange);
  ASSERT_EQ(fx.pin(1, a), kOk);
  EXPECT_EQ(fx.count(Event::kXenTlbFlushTypeChange), flushes + 1);
  // A frame whose last use ended before a full flush of every dirty CPU needs none.
  const Pfn b = fx.alloc();
  ASSERT_EQ(fx.remap(b, false), kOk);
  ASSERT_EQ(fx.mmuext(abi::kMmuextTlbFlushLocal, 0), kOk);
  ASSERT_EQ(fx.pin(1, b), kOk);
  EXPECT_EQ(fx.count(Event::kXenTlbFlushTypeChange), flushes + 1);
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(HypercallRules, TypeChangeFlushReachesRemoteDirtyCpus) {
  PvFixture fx({.cpus = 2, .vcpus = 2});
  const Pfn a = fx.alloc();
  ASSERT_EQ(fx.remap(a, false), kOk);
  const uint64_t ipis = fx.count(Event::kXenTlbFlushRemote);
  ASSERT_EQ(fx.pin(1, a), kOk);
  EXPECT_EQ(fx.count(Event::kXenTlbFlushRemote), ipis + 1);
}

TEST(HypercallRules, ModernXenFlushesAfterUpperLevelUpdates) {
  for (auto gen : {xen::XenGeneration::kPaperEra, xen::XenGeneration::kModern}) {
    PvFixture fx({.generation = gen});
    const Pfn l1 = fx.make_table();
    const Pfn l2 = fx.make_table();
    ASSERT_EQ(fx.pin(2, l2), kOk);
    ASSERT_EQ(fx.update(l2, 0, fx.pte(l1, kTableFlags)), kOk);
    EXPECT_EQ(fx.count(Event::kXenTlbFlushMmuUpdate), gen == xen::XenGeneration::kModern ? 1u : 0u);
  }
}

TEST(HypercallRules, ClearingAnUpperEntryDefersTheChildPutIntoAContinuation) {
  for (auto gen : {xen::XenGeneration::kPaperEra, xen::XenGeneration::kModern}) {
    PvFixture fx({.generation = gen});
    const Pfn l1 = fx.make_table();
    const Pfn l2 = fx.make_table();
    ASSERT_EQ(fx.pin(2, l2), kOk);
    ASSERT_EQ(fx.update(l2, 0, fx.pte(l1, kTableFlags)), kOk);
    const uint64_t hc = fx.count(Event::kXenHcMmuUpdate);
    ASSERT_EQ(fx.update(l2, 0, 0), kOk);
    const bool deferred = gen == xen::XenGeneration::kModern;  // L2 puts deferred since 4.12
    EXPECT_EQ(fx.count(Event::kXenContinuation), deferred ? 1u : 0u);
    EXPECT_EQ(fx.count(Event::kXenHcMmuUpdate), hc + (deferred ? 2 : 1));
    EXPECT_FALSE(fx.page(l1).validated) << "the put has happened by the time the call returns";
    EXPECT_AUDIT_CLEAN(fx);
  }
}

TEST(HypercallRules, UpdateVaMappingFlushFlags) {
  PvFixture fx;
  const Pfn p = fx.alloc();
  ASSERT_TRUE(fx.store(p, 0, 1).ok);  // cache the translation
  const uint64_t va_flags = fx.pte(p, kDataRo | kNx);
  ASSERT_EQ(fx.xen.update_va_mapping(0, {.va = fx.va(p), .val = va_flags, .flags = abi::kUvmfNone}),
            kOk);
  EXPECT_TRUE(fx.store(p, 0, 2).ok) << "no flush requested: the stale RW translation survives";
  ASSERT_EQ(
      fx.xen.update_va_mapping(0, {.va = fx.va(p), .val = va_flags, .flags = abi::kUvmfInvlpg}),
      kOk);
  EXPECT_FALSE(fx.store(p, 0, 3).ok);
  EXPECT_EQ(fx.load(p, 0).value, 2u);
}

TEST(HypercallRules, MulticallRunsEntriesInOrderWithOwnResults) {
  PvFixture fx;
  const Pfn t = fx.alloc();
  std::vector<abi::MulticallEntry> mc(2);
  mc[0].op = abi::HypercallNr::kUpdateVaMapping;
  mc[0].uvm = {.va = fx.va(t), .val = fx.pte(t, kDataRo | kNx), .flags = abi::kUvmfInvlpg};
  mc[1].op = abi::HypercallNr::kMmuextOp;
  mc[1].mmuext_ops = {{abi::kMmuextPinL1Table, fx.mfn(t).value, 0},
                      {abi::kMmuextPinL1Table, fx.mfn(t).value, 0}};
  EXPECT_EQ(fx.xen.multicall(0, mc), kOk);
  EXPECT_EQ(mc[0].result, kOk);
  EXPECT_EQ(mc[1].result, kEINVAL) << "second pin of the same frame";
  EXPECT_TRUE(fx.page(t).pinned);
  EXPECT_EQ(fx.count(Event::kXenEntry), 1u) << "one guest->Xen entry for the whole batch";
  EXPECT_AUDIT_CLEAN(fx);
}

}  // namespace
}  // namespace pib::test
