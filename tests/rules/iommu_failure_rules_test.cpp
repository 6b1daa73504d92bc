// SPDX-License-Identifier: MIT
// An IOMMU update that fails (here: no frame left for a new I/O page table) crashes the domain
// unless it is the hardware domain (iommu_map / iommu_unmap, drivers/passthrough/iommu.c, in
// both generations): the call that failed returns, and the domain's vCPUs never run again.
#include "support/pv_fixture.hpp"

namespace pib::test {
namespace {

using sim::Event;

int64_t populate_one(PvFixture& fx, uint64_t gpfn) {
  abi::MemoryReservation r{.extent_start = {gpfn}, .domid = abi::kDomidSelf};
  return fx.xen.memory_op(0, abi::kXenmemPopulatePhysmap, r);
}

TEST(IommuFailureRules, AFailedMapCrashesADomUButNotTheHardwareDomain) {
  for (const auto gen : {xen::XenGeneration::kPaperEra, xen::XenGeneration::kModern}) {
    for (const bool privileged : {false, true}) {
      // One frame past a multiple of 512: the last free frame opens a new 2 MiB block, whose
      // level-1 I/O table then has no frame left.
      PvFixture fx({.machine_frames = 4097,
                    .generation = gen,
                    .privileged = privileged,
                    .iommu = xen::IommuMode::kSync});
      xen::Domain& d = fx.xen.domain(fx.si.domid);
      d.config.max_pages += fx.machine.memory().frame_count();
      const uint64_t tables = fx.count(Event::kHwIommuPtAlloc);
      uint64_t gpfn = uint64_t{1} << 20;
      // (Paper-era Xen counts the extent whose mapping failed, modern Xen does not.)
      while (!d.shutdown_reason && populate_one(fx, gpfn) == 1) ++gpfn;
      const std::string what = std::string(xen::name_of(gen)) + (privileged ? " dom0" : " domU");
      EXPECT_GT(fx.count(Event::kHwIommuPtAlloc), tables) << what;
      EXPECT_EQ(d.pages.runs().back().first + d.pages.runs().back().count,
                fx.machine.memory().frame_count())
          << what << ": the last frame was allocated, its I/O table was not";
      if (privileged) {
        EXPECT_FALSE(d.shutdown_reason) << what << ": only told";
        EXPECT_EQ(populate_one(fx, gpfn + 1), 0) << what << ": runs on, no memory";
      } else {
        EXPECT_EQ(d.shutdown_reason, abi::kShutdownCrash) << what;
        EXPECT_THROW(populate_one(fx, gpfn + 1), xen::DomainCrashed) << what;
        EXPECT_THROW(fx.load(Pfn{0}, 0), xen::DomainCrashed) << what << ": no access either";
      }
      EXPECT_AUDIT_CLEAN(fx);
    }
  }
}

}  // namespace
}  // namespace pib::test
