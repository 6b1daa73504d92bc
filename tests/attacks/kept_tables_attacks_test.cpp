// SPDX-License-Identifier: MIT
// The designs that keep page tables pinned between uses (xenolinux-quicklist, pibooster-plus):
// what they claim in a fork+exit loop, and the new ways a guest could misuse a cached table,
// each refused by Xen or by the cache, with the auditor (and the DMA adversary) clean.
#include <gtest/gtest.h>

#include "cost/cost_model.hpp"
#include "cost/cost_profile.hpp"
#include "guest/xen/xen_pv_ops.hpp"
#include "pibooster/guest/hybrid_source.hpp"
#include "pibooster/guest/pinned_cache.hpp"
#include "policies/policy_table.hpp"
#include "support/guest_fixture.hpp"

namespace pib {
namespace {

using guest::Pid;
using guest::TableKind;
using sim::Event;

system::GuestSystemConfig config(const std::string& policy) {
  system::GuestSystemConfig c;
  c.guest_pages = 8192;
  c.iommu = xen::IommuMode::kSync;
  c.dma_adversary = xen::DmaAdversaryMode::kAudit;
  policies::apply_policy(policy, c);
  c.nic = true;
  return c;
}

class KeptTables : public ::testing::TestWithParam<const char*> {
 protected:
  KeptTables() : fx_(config(GetParam())) {
    xen_ = fx_.sys().hypervisor();
    const auto img = guest::builtin_image("lmbench-hello");
    p_ = fx_.k().spawn(img);
    fx_.k().run_startup(p_, img);
  }
  void fork_exit() {
    const Pid c = fx_.k().fork(p_);
    ASSERT_TRUE(fx_.k().store(c, fx_.k().mm(c).stack_top - 64, 1));
    fx_.k().exit(c);
    fx_.k().schedule(p_);
  }
  guest::XenPvOps& ops() { return static_cast<guest::XenPvOps&>(fx_.k().core().ops()); }
  // A table of `kind` the cache holds ready (pinned, empty), taken out of it.
  Pfn take(TableKind kind) {
    fx_.k().enter_interrupt(0);
    return fx_.sys().pt_pages().alloc(kind, fx_.k().mm(p_));
  }
  void expect_clean() { EXPECT_EQ(fx_.sys().audit(), std::vector<std::string>{}); }
  test::GuestFixture fx_;
  xen::Hypervisor* xen_ = nullptr;
  Pid p_ = 0;
};

TEST_P(KeptTables, ASteadyForkExitLoopValidatesNothingAndFlushesNoIotlb) {
  for (int i = 0; i < 3; ++i) fork_exit();  // warm the cache
  const auto d = fx_.measure([&] {
    for (int i = 0; i < 10; ++i) fork_exit();
  });
  EXPECT_EQ(d[Event::kXenValidateTables], 0u);
  EXPECT_EQ(d[Event::kXenDevalidateTables], 0u);
  EXPECT_EQ(d[Event::kGuestPgdPin], 0u);
  EXPECT_EQ(d[Event::kHwIotlbInvPage] + d[Event::kHwIotlbInvDomain], 0u);
  EXPECT_GT(d[Event::kXenModEntrySlow], 0u);  // entries validated one by one instead
  expect_clean();
}

TEST_P(KeptTables, ACachedTableCannotBeMadeWritable) {
  const Pfn t = take(TableKind::kL1);
  ASSERT_TRUE(fx_.k().core().pages().page(t).kept_pinned);
  const hw::Pte rw = ops().make_entry(t, guest::ptflags::kPresent | guest::ptflags::kRw);
  const Vaddr va = fx_.k().core().direct_va(t);
  EXPECT_NE(xen_->update_va_mapping(0, {.va = va, .val = rw.raw(), .flags = abi::kUvmfInvlpg}),
            abi::err::kOk);
  EXPECT_EQ(xen_->frame_table()[ops().pfn_to_mfn(t)].type, xen::PageType::kL1);
  fx_.sys().pt_pages().free(t, TableKind::kL1);
  expect_clean();
}

TEST_P(KeptTables, ACachedTableCannotMapAnotherTableWritably) {
  // A stale or forged entry in a cached L1 that would give user space a writable window onto a
  // page table (here: the cached table itself) is refused by Xen's validation of the entry.
  const Pfn t = take(TableKind::kL1);
  const Maddr slot{(ops().pfn_to_mfn(t).value << kPageShift) + 8 * 5};
  const hw::Pte self =
      ops().make_entry(t, guest::ptflags::kPresent | guest::ptflags::kRw | guest::ptflags::kUser);
  const abi::MmuUpdate u = abi::make_mmu_update(slot, self.raw());
  uint32_t done = 0;
  EXPECT_NE(xen_->mmu_update(0, std::span<const abi::MmuUpdate>(&u, 1), &done, abi::kDomidSelf),
            abi::err::kOk);
  EXPECT_TRUE(fx_.k().core().page_words_zero(t, kEntriesPerTable));
  fx_.sys().pt_pages().free(t, TableKind::kL1);
  expect_clean();
}

TEST_P(KeptTables, ATableFreedWithAStaleEntryIsNeverHandedOutAgain) {
  const Pfn t = take(TableKind::kL1);
  // The guest leaves a mapping of one of its own pages behind (a bug, or an attack on the next
  // owner of the table). Xen accepts the entry: the page is the guest's.
  const Pfn data = fx_.k().core().alloc_page(true);
  const Maddr slot{(ops().pfn_to_mfn(t).value << kPageShift) + 8 * 9};
  const abi::MmuUpdate u = abi::make_mmu_update(
      slot, ops().make_entry(data, guest::ptflags::kPresent | guest::ptflags::kUser).raw());
  uint32_t done = 0;
  ASSERT_EQ(xen_->mmu_update(0, std::span<const abi::MmuUpdate>(&u, 1), &done, abi::kDomidSelf),
            abi::err::kOk);
  const auto d = fx_.measure([&] { fx_.sys().pt_pages().free(t, TableKind::kL1); });
  EXPECT_EQ(d[Event::kGuestPtCacheDirty], 1u);
  EXPECT_FALSE(fx_.k().core().pages().page(t).kept_pinned);  // it left the cache, unpinned
  for (int i = 0; i < 3; ++i) fork_exit();  // the rcu grace period passes; tables come and go
  for (int i = 0; i < 4; ++i) {
    const Pfn again = take(TableKind::kL1);
    EXPECT_TRUE(fx_.k().core().page_words_zero(again, kEntriesPerTable));
    fx_.sys().pt_pages().free(again, TableKind::kL1);
  }
  expect_clean();
}

TEST_P(KeptTables, UnpinningALinkedTableLeavesItTypedAndReadOnly) {
  // A pinned table still linked into its parent keeps its type through the parent's reference:
  // dropping the pin does not make it writable.
  const Pid c = fx_.k().fork(p_);
  const guest::Mm& mm = fx_.k().mm(c);
  ASSERT_TRUE(fx_.k().core().pages().page(mm.pgd).kept_pinned);
  Pfn l3 = kInvalidPfn;
  for (uint64_t s = 0; s < guest::kUserPgdSlots && l3 == kInvalidPfn; ++s) {
    const hw::Pte e = fx_.k().core().read_entry(guest::EntryRef{mm.pgd, s});
    if (e.present()) l3 = ops().entry_pfn(e);
  }
  ASSERT_NE(l3, kInvalidPfn);
  const Mfn mfn = ops().pfn_to_mfn(l3);
  fx_.k().core().ops().enter_kernel(0);
  const abi::MmuextOp unpin{abi::kMmuextUnpinTable, mfn.value, 0};
  uint32_t done = 0;
  ASSERT_EQ(xen_->mmuext_op(0, std::span<const abi::MmuextOp>(&unpin, 1), &done, abi::kDomidSelf),
            abi::err::kOk);
  EXPECT_EQ(xen_->frame_table()[mfn].type, xen::PageType::kL3);
  const hw::Pte rw = ops().make_entry(l3, guest::ptflags::kPresent | guest::ptflags::kRw);
  EXPECT_NE(
      xen_->update_va_mapping(
          0, {.va = fx_.k().core().direct_va(l3), .val = rw.raw(), .flags = abi::kUvmfInvlpg}),
      abi::err::kOk);
  // Put the pin back so the cache's bookkeeping stays true, then tear down normally.
  const abi::MmuextOp pin{abi::kMmuextPinL3Table, mfn.value, 0};
  ASSERT_EQ(xen_->mmuext_op(0, std::span<const abi::MmuextOp>(&pin, 1), &done, abi::kDomidSelf),
            abi::err::kOk);
  fx_.k().exit(c);
  fx_.k().schedule(p_);
  expect_clean();
}

INSTANTIATE_TEST_SUITE_P(Designs, KeptTables,
                         ::testing::Values("xenolinux-quicklist", "pibooster-plus"),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                           std::string n = p.param;
                           for (char& ch : n) ch = ch == '-' ? '_' : ch;
                           return n;
                         });

TEST(PiBoosterPlus, TheThresholdComesFromTheProfileAndSplitsSparseFromDense) {
  const auto costs = cost::unit_costs(cost::find_profile("paper-era-server"));
  const auto t = pibooster::DensityThreshold::from_costs(costs);
  EXPECT_GT(t.entries, 1.0);
  EXPECT_LT(t.entries, 512.0);
  auto doubled = costs;  // dearer validation scans favour kept tables: the break-even rises
  doubled[static_cast<std::size_t>(Event::kXenValidateEntriesScanned)] *= 4;
  EXPECT_GT(pibooster::DensityThreshold::from_costs(doubled).entries, t.entries);
}

}  // namespace
}  // namespace pib
