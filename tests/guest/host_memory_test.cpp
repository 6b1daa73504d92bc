// SPDX-License-Identifier: MIT
// The simulator's per-frame metadata grows with the frames a run uses, not with guest size:
// a 64-GiB guest with a few processes must not cost per-frame host memory for all 16 M frames.
// (Wall-clock time is never asserted; these are structural bounds.)
#include "workload/host_memory.hpp"

#include <gtest/gtest.h>

#include "support/guest_fixture.hpp"
#include "workload/workload.hpp"

namespace pib {
namespace {

constexpr uint64_t k64GiBPages = uint64_t{16} << 20;

struct Metadata {
  uint64_t xen = 0, guest = 0, directory = 0;
  uint64_t frame_table_chunks = 0, guest_chunks = 0;
  uint64_t pages_in_use = 0, live = 0;
  uint64_t total() const { return xen + guest + directory; }
};

Metadata measure_at_peak(system::PvOpsKind kind, uint64_t children) {
  system::GuestSystemConfig cfg;
  cfg.pvops = kind;
  cfg.guest_pages = k64GiBPages;
  system::GuestSystem sys(cfg);
  workload::Params p;
  p.set("children", std::to_string(children));
  auto w = workload::make_workload("proc.population", p);
  Metadata m;
  w->set_peak_probe([&](system::GuestSystem& s) {
    const auto& mem = s.machine().memory();
    const auto& pages = s.kernel().core().pages();
    if (const xen::Hypervisor* x = s.hypervisor()) {
      m.xen = x->metadata_host_bytes();
      m.frame_table_chunks = x->frame_table().dense_chunks();
    }
    m.guest = pages.host_bytes();
    m.guest_chunks = pages.dense_chunks();
    m.directory = mem.host_bytes() - mem.backed_frames() * kPageSize;  // not the contents
    m.pages_in_use = pages.nr_pages() - pages.free_pages();
    m.live = s.kernel().live_pids().size();
  });
  workload::run(sys, *w, "proc.population", 1, 0);
  return m;
}

// Directories cost a fixed share of a byte per frame (a slot per 512 frames in each table, a
// list entry per free 4-MiB block); a page in use may materialise its share of a chunk of 512
// descriptors in each table (about 72 bytes) and leave a few neighbours' shares too. A dense
// array of even 8 bytes per frame (128 MiB here) is far above the bound.
uint64_t bound(uint64_t frames, uint64_t pages_in_use) {
  return frames / 4 + frames / 16 + 256 * pages_in_use;
}

TEST(HostMemory, XenMetadataOfA64GiBGuestFollowsThePagesInUse) {
  const Metadata m = measure_at_peak(system::PvOpsKind::kXen, 4);
  EXPECT_EQ(m.live, 5u);              // the parent and its four children at the peak
  EXPECT_GT(m.pages_in_use, 32768u);  // at least the builder's L1 tables of the direct map
  EXPECT_LT(m.total(), bound(k64GiBPages, m.pages_in_use))
      << "xen " << m.xen << " guest " << m.guest << " directory " << m.directory;
  // Frames the direct map references once share one state: chunks are only where pages are
  // used (the builder's tables take 65 chunks of 512 frames).
  EXPECT_LE(m.frame_table_chunks, m.pages_in_use / 512 + 64);
  EXPECT_LE(m.guest_chunks, m.pages_in_use / 512 + 64);
}

TEST(HostMemory, NativeMetadataOfA64GiBGuestFollowsThePagesInUse) {
  const Metadata m = measure_at_peak(system::PvOpsKind::kNative, 4);
  EXPECT_EQ(m.live, 5u);
  EXPECT_LT(m.total(), bound(k64GiBPages, m.pages_in_use))
      << "guest " << m.guest << " directory " << m.directory;
  EXPECT_LE(m.guest_chunks, m.pages_in_use / 512 + 64);
}

TEST(HostMemory, ProbeReportsGrowthAgainstFramesHoldingData) {
  workload::HostMemoryProbe probe;
  probe.start();
  system::GuestSystemConfig cfg;
  cfg.guest_pages = 16384;
  system::GuestSystem sys(cfg);
  workload::Params p;
  p.set("children", "8");
  auto w = workload::make_workload("proc.population", p);
  probe.attach(*w);
  workload::run(sys, *w, "proc.population", 1, 0);
  ASSERT_TRUE(probe.sampled());
  const workload::HostMemoryFigures f = probe.finish();
  // Every page the guest uses (its tables, the children's pages) holds data, and Xen's frames
  // too; at least the builder's tables and the children's written pages.
  EXPECT_GE(f.touched_frames, 8u * 16u);
  EXPECT_GT(f.guest_pages_in_use, 8u * 16u);
  EXPECT_GT(f.rss_before, 0u);
}

}  // namespace
}  // namespace pib
