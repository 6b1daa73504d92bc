// SPDX-License-Identifier: MIT
// Placing a snapshot's mappings: as captured, or as the model's kernel places what the kernel
// places (stack, mmap area, brk, vDSO), keeping the program image and each mapping's size.
#include "workload/snapshot_layout.hpp"

#include <gtest/gtest.h>

#include "guest/mm_types.hpp"
#include "snapshot/snapshot.hpp"

namespace pib {
namespace {

using workload::PlacedLayout;
using workload::SnapshotPlacement;

snapshot::Snapshot heap64() {
  return snapshot::load(std::string(std::getenv("PIB_SOURCE_DIR")) +
                        "/data/groundtruth/xen-4.17-linux-6.1/snapshot-heap64.json");
}

const snapshot::MapEntry& named(const PlacedLayout& l, const std::string& name) {
  for (const auto& m : l.vmas) {
    if (m.name == name) return m;
  }
  throw std::runtime_error("no mapping " + name);
}

const snapshot::MapEntry& heap_mapping(const PlacedLayout& l) {
  for (const auto& m : l.vmas) {
    if (m.name.empty() && m.end - m.start == (64ULL << 20)) return m;
  }
  throw std::runtime_error("no 64 MiB mapping");
}

TEST(SnapshotLayout, AsCapturedKeepsEveryAddress) {
  const auto snap = heap64();
  guest::AddressSpaceRandomizer r(2, 1);
  const PlacedLayout l = workload::place_snapshot(snap.vmas, r, SnapshotPlacement::kAsCaptured);
  // [vvar] and [vvar_vclock] are one mapping in the modelled kernel; [vsyscall] is the kernel's.
  EXPECT_EQ(l.vmas.size(), snap.vmas.size() - 2);
  EXPECT_EQ(named(l, "[vvar]").end, 0x7ffff7ffd000u);
  EXPECT_EQ(heap_mapping(l).start, 0x7ffff3e00000u);
  EXPECT_EQ(l.translate(0x7ffff3e00000u), 0x7ffff3e00000u);
  EXPECT_EQ(l.stack_top, 0u);
}

TEST(SnapshotLayout, UnrandomisedKernelPacksTheMmapAreaBelowTheVdso) {
  const auto snap = heap64();
  guest::AddressSpaceRandomizer r(0, 1);
  const PlacedLayout l = workload::place_snapshot(snap.vmas, r, SnapshotPlacement::kByModelKernel);
  EXPECT_EQ(named(l, "[stack]").end, guest::kTaskSize);
  const uint64_t base = guest::kTaskSize - (128ULL << 20);
  EXPECT_EQ(named(l, "[vdso]").end, base);
  // Linux 6.1 does not align large anonymous mappings: right below the vvar block.
  EXPECT_EQ(heap_mapping(l).end, named(l, "[vvar]").start);
  EXPECT_NE(heap_mapping(l).start % (2ULL << 20), 0u);
  EXPECT_EQ(named(l, "[heap]").start, 0x4b0000u);  // brk right after the image
  EXPECT_EQ(named(l, "bench").start, 0x400000u);
  EXPECT_EQ(l.translate(0x7ffff3e00000u + 5 * kPageSize), heap_mapping(l).start + 5 * kPageSize);
}

TEST(SnapshotLayout, RandomisedKernelUsesItsOwnDraws) {
  const auto snap = heap64();
  for (uint64_t seed = 1; seed <= 16; ++seed) {
    guest::AddressSpaceRandomizer r(2, seed), same(2, seed);
    const PlacedLayout l =
        workload::place_snapshot(snap.vmas, r, SnapshotPlacement::kByModelKernel);
    const uint64_t mmap_base = same.mmap_base();
    const uint64_t stack_top = same.stack_top();
    EXPECT_EQ(l.mmap_base, mmap_base);
    EXPECT_EQ(named(l, "[stack]").end, stack_top);
    EXPECT_EQ(named(l, "[stack]").end - named(l, "[stack]").start, 0x21000u);
    const uint64_t brk = named(l, "[heap]").start;
    EXPECT_GE(brk, 0x4b0000u);
    EXPECT_LT(brk, 0x4b0000u + (32ULL << 20));
    // The vDSO block above the stack, or on top of the mmap area when the hint was not free.
    const uint64_t top =
        named(l, "[vdso]").start > stack_top ? mmap_base : named(l, "[vvar]").start;
    EXPECT_EQ(heap_mapping(l).end, top);
    EXPECT_EQ(named(l, "bench").start, 0x400000u);
  }
}

}  // namespace
}  // namespace pib
