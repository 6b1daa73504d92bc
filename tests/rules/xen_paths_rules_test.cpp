// SPDX-License-Identifier: MIT
// Xen 4.17's paths where the order of work changes what is counted: the kernel<->user switch
// (a plain CR3 write, no TLB-clock tick), the XSA-286 flush against the deferred puts of
// do_mmu_update, and what a hypercall made from guest user mode gets.
#include "support/pv_fixture.hpp"

namespace pib::test {
namespace {

using sim::Event;

// A pinned, empty L4 installed as vCPU 0's user base pointer, so that it can enter user mode.
void give_user_root(PvFixture& fx) {
  const Pfn user = fx.make_table();
  ASSERT_EQ(fx.pin(4, user), kOk);
  ASSERT_EQ(fx.mmuext(abi::kMmuextNewUserBaseptr, fx.mfn(user).value), kOk);
}

const xen::Vcpu& vcpu0(const PvFixture& fx) {
  return fx.xen.domain(fx.si.domid).vcpus.at(0);
}

// _toggle_guest_pt: "don't flush user global mappings, don't tick the TLB clock".
TEST(XenPathRules, ModeSwitchIsAPlainCr3Write) {
  PvFixture fx;
  give_user_root(fx);
  const uint64_t clock = fx.xen.tlbflush_clock();
  const uint64_t stamp = fx.xen.tlbflush_time(0);
  const uint64_t full = fx.count(Event::kHwTlbFlushFull);
  const uint64_t nonglobal = fx.count(Event::kHwTlbFlushNonGlobal);
  const uint64_t loads = fx.count(Event::kHwCr3Load);
  ASSERT_EQ(fx.xen.switch_guest_mode(0, false), kOk);
  EXPECT_FALSE(vcpu0(fx).in_kernel);
  ASSERT_EQ(fx.xen.switch_guest_mode(0, true), kOk);
  EXPECT_TRUE(vcpu0(fx).in_kernel);
  EXPECT_EQ(fx.count(Event::kHwCr3Load), loads + 2);
  EXPECT_EQ(fx.count(Event::kHwTlbFlushNonGlobal), nonglobal + 2);
  EXPECT_EQ(fx.count(Event::kHwTlbFlushFull), full) << "global entries survive";
  EXPECT_EQ(fx.xen.tlbflush_clock(), clock) << "no tick";
  EXPECT_EQ(fx.xen.tlbflush_time(0), stamp) << "no stamp";
  // A base-pointer load is a real flush for the clock (write_ptbase), for comparison.
  ASSERT_EQ(fx.mmuext(abi::kMmuextNewBaseptr, fx.mfn(fx.si.pt_base).value), kOk);
  EXPECT_GT(fx.xen.tlbflush_clock(), clock);
  EXPECT_EQ(fx.xen.tlbflush_time(0), fx.xen.tlbflush_clock());
}

// So a frame whose writable use ended before a syscall round trip still needs the type-change
// shoot-down when it becomes a table: the switch does not count as a flush.
TEST(XenPathRules, ModeSwitchesDoNotSpareATypeChangeShootDown) {
  PvFixture fx;
  give_user_root(fx);
  const Pfn a = fx.alloc();
  ASSERT_EQ(fx.remap(a, false), kOk);  // last writable use ends: stamped with the clock
  ASSERT_EQ(fx.xen.switch_guest_mode(0, false), kOk);
  ASSERT_EQ(fx.xen.switch_guest_mode(0, true), kOk);
  const uint64_t flushes = fx.count(Event::kXenTlbFlushTypeChange);
  ASSERT_EQ(fx.pin(1, a), kOk);
  EXPECT_EQ(fx.count(Event::kXenTlbFlushTypeChange), flushes + 1);
  EXPECT_AUDIT_CLEAN(fx);
}

// do_mmu_update: the continuation for a deferred put is created, and the XSA-286 flush runs,
// in the same invocation; put_old_guest_table runs when the continuation re-enters. The
// devalidated L2 is therefore stamped after the flush, and remapping it writable needs a
// second type-change shoot-down (the first made it an L2).
TEST(XenPathRules, FreeingAnUnpinnedL2ThenRemappingItWritableFlushesTwice) {
  for (auto gen : {xen::XenGeneration::kPaperEra, xen::XenGeneration::kModern}) {
    PvFixture fx({.generation = gen});
    const Pfn l3 = fx.make_table();
    ASSERT_EQ(fx.pin(3, l3), kOk);
    const Pfn l2 = fx.make_table();  // stamped now, after the L3's shoot-down
    const uint64_t before = fx.count(Event::kXenTlbFlushTypeChange);
    ASSERT_EQ(fx.update(l3, 0, fx.pte(l2, kTableFlags)), kOk);  // writable -> L2
    ASSERT_EQ(fx.update(l3, 0, 0), kOk);                        // deferred put of the L2
    EXPECT_FALSE(fx.page(l2).validated);
    ASSERT_EQ(fx.remap(l2, true), kOk);  // L2 -> writable
    EXPECT_EQ(fx.count(Event::kXenTlbFlushTypeChange), before + 2) << name_of(gen);
    EXPECT_EQ(fx.count(Event::kXenTlbFlushMmuUpdate), gen == xen::XenGeneration::kModern ? 2u : 0u);
    EXPECT_AUDIT_CLEAN(fx);
  }
}

// Each deferred put ends an invocation with its own flush: two L4 clears in one mmu_update are
// two invocations, two continuations and (modern Xen) two XSA-286 flushes.
TEST(XenPathRules, TwoL4ClearsInOneCallFlushTwice) {
  for (auto gen : {xen::XenGeneration::kPaperEra, xen::XenGeneration::kModern}) {
    PvFixture fx({.generation = gen});
    const Pfn a = fx.make_table();
    const Pfn b = fx.make_table();
    ASSERT_EQ(fx.update(fx.si.pt_base, 0, fx.pte(a, kTableFlags)), kOk);
    ASSERT_EQ(fx.update(fx.si.pt_base, 1, fx.pte(b, kTableFlags)), kOk);
    const uint64_t flushes = fx.count(Event::kXenTlbFlushMmuUpdate);
    const uint64_t continuations = fx.count(Event::kXenContinuation);
    const std::vector<abi::MmuUpdate> clears{abi::make_mmu_update(fx.entry(fx.si.pt_base, 0), 0),
                                             abi::make_mmu_update(fx.entry(fx.si.pt_base, 1), 0)};
    uint32_t done = 0;
    ASSERT_EQ(fx.xen.mmu_update(0, clears, &done, abi::kDomidSelf), kOk);
    EXPECT_EQ(done, 2u);
    EXPECT_EQ(fx.count(Event::kXenContinuation), continuations + 2);
    const bool modern = gen == xen::XenGeneration::kModern;
    EXPECT_EQ(fx.count(Event::kXenTlbFlushMmuUpdate), flushes + (modern ? 2 : 0)) << name_of(gen);
    EXPECT_FALSE(fx.page(a).validated);
    EXPECT_FALSE(fx.page(b).validated);
    EXPECT_AUDIT_CLEAN(fx);
  }
}

// lstar_enter serves SYSCALL as a hypercall only in guest kernel mode; from user mode it is
// delivered to the guest kernel as a syscall. Nothing is done, and the vCPU is in kernel mode.
TEST(XenPathRules, HypercallFromGuestUserModeIsBouncedToTheKernel) {
  PvFixture fx;
  give_user_root(fx);
  const Pfn t = fx.alloc();
  ASSERT_EQ(fx.xen.switch_guest_mode(0, false), kOk);
  EXPECT_EQ(fx.update(t, 0, 42), abi::err::kBouncedToGuestKernel);
  EXPECT_TRUE(vcpu0(fx).in_kernel) << "delivered as a syscall: the guest kernel runs";
  EXPECT_EQ(fx.load(t, 0).value, 0u) << "the request was not served";
  EXPECT_EQ(fx.count(Event::kXenWritableMmuUpdate), 0u);
  EXPECT_EQ(fx.update(t, 0, 42), kOk) << "the same call from kernel mode";
  // Every hypercall, HYPERVISOR_iret included.
  ASSERT_EQ(fx.xen.switch_guest_mode(0, false), kOk);
  EXPECT_EQ(fx.mmuext(abi::kMmuextTlbFlushLocal, 0), abi::err::kBouncedToGuestKernel);
  ASSERT_EQ(fx.xen.switch_guest_mode(0, false), kOk);
  EXPECT_EQ(fx.remap(t, false), abi::err::kBouncedToGuestKernel);
  EXPECT_EQ(fx.page(t).type_count, 1u) << "still mapped writable";
  ASSERT_EQ(fx.xen.switch_guest_mode(0, false), kOk);
  std::vector<abi::MulticallEntry> mc(1);
  mc[0].op = abi::HypercallNr::kMmuextOp;
  mc[0].mmuext_ops = {{abi::kMmuextTlbFlushLocal, 0, 0}};
  EXPECT_EQ(fx.xen.multicall(0, mc), abi::err::kBouncedToGuestKernel);
  ASSERT_EQ(fx.xen.switch_guest_mode(0, false), kOk);
  EXPECT_EQ(fx.xen.vcpu_op(0, abi::kVcpuOpStopSingleshotTimer, 0), abi::err::kBouncedToGuestKernel);
  ASSERT_EQ(fx.xen.switch_guest_mode(0, false), kOk);
  EXPECT_EQ(fx.xen.switch_guest_mode(0, false), abi::err::kBouncedToGuestKernel) << "iret";
  EXPECT_TRUE(vcpu0(fx).in_kernel);
  EXPECT_EQ(fx.count(Event::kXenHypercallFromUser), 6u);
  EXPECT_EQ(fx.count(Event::kXenHcMmuextOp), 2u) << "the pin and the user base pointer only";
  EXPECT_AUDIT_CLEAN(fx);
}

// pv_ro_page_fault emulates a write only when the effective L1 entry (the walk's last step) is
// present and read-only. Through a read-only L4 self-map the last step is an L2 entry: an RW
// one means the write was refused higher up and goes back to the guest; a read-only one is a
// write to an L1 table Xen emulates.
TEST(XenPathRules, SelfMapStoreIsEmulatedOnlyWhenTheEffectiveL1eIsReadOnly) {
  using namespace hw::pte_bits;
  for (const bool leaf_rw : {true, false}) {
    PvFixture fx({.generation = xen::XenGeneration::kModern});
    const Pfn l1 = fx.alloc();
    const Pfn l2 = fx.alloc();
    const Pfn l3 = fx.alloc();
    ASSERT_TRUE(fx.store(l2, 0, fx.pte(l1, leaf_rw ? kTableFlags : kTableFlags & ~kRw)).ok);
    ASSERT_TRUE(fx.store(l3, 0, fx.pte(l2, kTableFlags)).ok);
    for (const Pfn p : {l1, l2, l3}) ASSERT_EQ(fx.remap(p, false), kOk);
    ASSERT_EQ(fx.pin(1, l1), kOk);
    ASSERT_EQ(fx.update(fx.si.pt_base, 0, fx.pte(l3, kTableFlags)), kOk);
    const uint64_t self = 5;  // a read-only self-map (a linear page table, no references)
    ASSERT_EQ(fx.update(fx.si.pt_base, self, fx.pte(fx.si.pt_base, kPresent | kUser)), kOk);
    // self -> L4 -> slot 0 -> l3 -> l3[0] -> l2 -> l2[0] (last step) -> l1, entry 7.
    const Vaddr va = hw::make_vaddr(self, 0, 0, 0, 7 * 8);
    const Pfn data = fx.alloc();
    const uint64_t value = fx.pte(data, kDataRo);
    const auto r =
        fx.xen.guest_access(0, hw::MemRequest{va, hw::MemOp::kStore, hw::Mode::kUser, value});
    EXPECT_EQ(r.ok, !leaf_rw);
    EXPECT_EQ(fx.count(Event::kXenPtwrEmulated), leaf_rw ? 0u : 1u);
    EXPECT_EQ(fx.count(Event::kXenFaultBounced), leaf_rw ? 1u : 0u);
    EXPECT_EQ(hw::Pte{fx.load(l1, 7).value}.present(), !leaf_rw);
    EXPECT_AUDIT_CLEAN(fx);
  }
}

}  // namespace
}  // namespace pib::test
