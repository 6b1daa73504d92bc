// SPDX-License-Identifier: MIT
// The incremental auditor (xen/audit_incremental.hpp) against the full one: through a table's
// life cycle its verdict is the full auditor's after every hypercall, and what is broken
// behind Xen's back — a table's word, a frame's state that only the tables referencing it can
// see, an I/O mapping — is found at once and forgotten once it is put right.
#include <gtest/gtest.h>

#include "support/pv_fixture.hpp"
#include "xen/audit_incremental.hpp"

namespace pib::test {
namespace {

PvFixture modern_domain() {
  return PvFixture({.generation = xen::XenGeneration::kModern,
                    .iommu = xen::IommuMode::kSync,
                    .dma_device = true});
}

// The two auditors agree, and this is the verdict.
void expect_verdict(xen::IncrementalAudit& audit, PvFixture& fx, bool clean) {
  const bool incremental = audit.clean();
  const auto full = fx.audit();
  EXPECT_EQ(incremental, full.empty()) << ::testing::PrintToString(full);
  EXPECT_EQ(incremental, clean) << ::testing::PrintToString(full);
}

TEST(IncrementalAudit, FollowsATablesLifeCycleAsTheFullAuditorDoes) {
  PvFixture fx = modern_domain();
  xen::IncrementalAudit audit(fx.xen);
  expect_verdict(audit, fx, true);
  const Pfn l1 = fx.make_table();
  const Pfn data = fx.alloc();
  ASSERT_EQ(fx.update(l1, 3, fx.pte(data, kDataRw)), kOk);  // (not a table yet: a plain store)
  expect_verdict(audit, fx, true);
  ASSERT_EQ(fx.pin(1, l1), kOk);  // the data frame gains a writable reference from the L1
  expect_verdict(audit, fx, true);
  EXPECT_EQ(fx.remap(l1, true), kEBUSY) << "a live L1 cannot be mapped writable";
  expect_verdict(audit, fx, true);
  ASSERT_EQ(fx.update(l1, 4, fx.pte(data, kDataRo)), kOk);
  ASSERT_EQ(fx.update(l1, 3, 0), kOk);
  expect_verdict(audit, fx, true);
  ASSERT_EQ(fx.unpin(l1), kOk);
  ASSERT_EQ(fx.remap(l1, true), kOk);  // back to a plain page, in the IOMMU again
  expect_verdict(audit, fx, true);
}

TEST(IncrementalAudit, FindsATableWordChangedBehindXensBackAndForgetsItWhenRestored) {
  PvFixture fx = modern_domain();
  xen::IncrementalAudit audit(fx.xen);
  const Pfn l1 = fx.make_table();
  const Pfn data = fx.alloc();
  ASSERT_EQ(fx.update(l1, 7, fx.pte(data, kDataRw)), kOk);
  ASSERT_EQ(fx.pin(1, l1), kOk);
  expect_verdict(audit, fx, true);
  const uint64_t word = fx.machine.memory().read_entry(fx.mfn(l1), 7);
  fx.machine.memory().write_entry(fx.mfn(l1), 7, 0);  // the reference it held is lost
  expect_verdict(audit, fx, false);
  expect_verdict(audit, fx, false);  // (still broken: nothing changed)
  fx.machine.memory().write_entry(fx.mfn(l1), 7, word);
  expect_verdict(audit, fx, true);
}

TEST(IncrementalAudit, FindsAReferencedFramesStateChangeThroughTheTablesThatMapIt) {
  PvFixture fx;  // (no IOMMU: the I/O rules would see a type change too)
  xen::IncrementalAudit audit(fx.xen);
  const Pfn l1 = fx.make_table();
  const Pfn data = fx.alloc();
  ASSERT_EQ(fx.update(l1, 9, fx.pte(data, kDataRw)), kOk);
  ASSERT_EQ(fx.pin(1, l1), kOk);
  expect_verdict(audit, fx, true);
  // Only the data frame's state changes (no table word): the L1's writable entry now maps a
  // frame that is not writable, which only re-checking the L1's entries can see.
  xen::PageInfo& pg = fx.xen.policy_frame(fx.mfn(data));
  const xen::PageInfo before = pg;
  pg.type = xen::PageType::kSegDesc;
  expect_verdict(audit, fx, false);
  // (The direct map's L1 maps it writable too: one problem per table, both entry rules.)
  for (const std::string& p : fx.audit()) {
    EXPECT_NE(p.find("writable mapping of a"), std::string::npos) << p;
  }
  fx.xen.policy_frame(fx.mfn(data)) = before;
  expect_verdict(audit, fx, true);
  // A count alone: found by comparing that frame.
  ++fx.xen.policy_frame(fx.mfn(l1)).count;
  expect_verdict(audit, fx, false);
  --fx.xen.policy_frame(fx.mfn(l1)).count;
  expect_verdict(audit, fx, true);
}

TEST(IncrementalAudit, FindsAnIoMappingRemovedBehindXensBack) {
  PvFixture fx = modern_domain();
  xen::IncrementalAudit audit(fx.xen);
  const Pfn data = fx.alloc();
  expect_verdict(audit, fx, true);
  xen::Domain& d = fx.xen.domain(fx.si.domid);
  // A writable frame must be in a post-XSA-288 IOMMU.
  ASSERT_EQ(fx.xen.iommu_clear(d, fx.mfn(data)), xen::Hypervisor::IoClear::kCleared);
  expect_verdict(audit, fx, false);
  bool needs_flush = false;
  ASSERT_TRUE(fx.xen.iommu_restore_unflushed(d, fx.mfn(data), &needs_flush));
  expect_verdict(audit, fx, true);
}

TEST(IncrementalAudit, StartsAfreshAfterInvalidate) {
  PvFixture fx = modern_domain();
  xen::IncrementalAudit audit(fx.xen);
  expect_verdict(audit, fx, true);
  audit.invalidate();
  expect_verdict(audit, fx, true);
  ++fx.xen.policy_frame(fx.mfn(fx.si.pt_base)).type_count;
  audit.invalidate();
  expect_verdict(audit, fx, false);
}

}  // namespace
}  // namespace pib::test
