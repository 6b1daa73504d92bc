// SPDX-License-Identifier: MIT
// The auditor on a domain large enough that its per-frame counts are folded back while it runs
// (more than 64 chunks of 512 frames): the builder's direct map references every frame once, so
// a clean domain audits clean and a broken count is still found after the fold. (The fold
// saves host memory only; these check that it loses no count.)
#include <gtest/gtest.h>

#include "support/pv_fixture.hpp"

namespace pib::test {
namespace {

constexpr uint64_t kPages = 40000;  // 78 chunks of 512 frames

TEST(AuditScale, ALargeDomainAuditsCleanAfterTheCountsFold) {
  PvFixture fx({.machine_frames = 48000, .domain_pages = kPages});
  EXPECT_AUDIT_CLEAN(fx);
}

TEST(AuditScale, AWrongCountIsFoundInALargeDomain) {
  PvFixture fx({.machine_frames = 48000, .domain_pages = kPages});
  // Clear the last present entry of the domain's last validated L1 behind Xen's back: the
  // frame it mapped keeps a reference no table holds any more.
  const xen::Domain& d = fx.xen.domain(fx.si.domid);
  const auto& ft = fx.xen.frame_table();
  Mfn l1 = kInvalidMfn;
  for (const Mfn m : d.pages) {
    if (ft[m].type == xen::PageType::kL1 && ft[m].validated) l1 = m;
  }
  ASSERT_NE(l1, kInvalidMfn);
  uint64_t index = kEntriesPerTable;
  for (uint64_t i = 0; i < kEntriesPerTable; ++i) {
    if (fx.machine.memory().read_entry(l1, i) & hw::pte_bits::kPresent) index = i;
  }
  ASSERT_LT(index, kEntriesPerTable);
  fx.machine.memory().write_entry(l1, index, 0);
  const auto problems = fx.audit();
  ASSERT_FALSE(problems.empty());
  EXPECT_NE(problems[0].find("general count"), std::string::npos) << problems[0];
}

}  // namespace
}  // namespace pib::test
