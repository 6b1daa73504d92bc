// SPDX-License-Identifier: MIT
// Does machine memory hold real bytes, sparsely?
#include <gtest/gtest.h>

#include "hw/machine_memory.hpp"
#include "hw/pte.hpp"

namespace pib::hw {
namespace {

TEST(MachineMemory, UntouchedFramesReadZeroAndCostNothing) {
  sim::Ledger ledger;
  MachineMemory mem(1 << 20, ledger);  // 4 GiB of machine memory
  EXPECT_EQ(mem.read_u64(maddr_of(Mfn{123456}, 8)), 0u);
  EXPECT_EQ(mem.backed_frames(), 0u);
  mem.write_u64(maddr_of(Mfn{7}, 16), 0xabcdef);
  EXPECT_EQ(mem.read_u64(maddr_of(Mfn{7}, 16)), 0xabcdefu);
  EXPECT_EQ(mem.backed_frames(), 1u);
}

TEST(MachineMemory, ZeroAndCopyMoveRealContents) {
  sim::Ledger ledger;
  MachineMemory mem(64, ledger);
  mem.write_entry(Mfn{3}, 511, 42);
  mem.copy_frame(Mfn{4}, Mfn{3});
  EXPECT_EQ(mem.read_entry(Mfn{4}, 511), 42u);
  mem.zero_frame(Mfn{3});
  EXPECT_TRUE(mem.frame_is_zero(Mfn{3}));
  EXPECT_FALSE(mem.frame_is_zero(Mfn{4}));
  EXPECT_EQ(ledger.count(sim::Event::kHwMemZeroPage), 1u);
  EXPECT_EQ(ledger.count(sim::Event::kHwMemCopyPage), 1u);
}

TEST(MachineMemory, AnAttachedLogRecordsEveryFrameWrittenZeroedOrCopiedInto) {
  sim::Ledger ledger;
  MachineMemory mem(10000, ledger);
  DirtyFrames log(mem.frame_count());
  mem.write_u64(maddr_of(Mfn{1}, 8), 5);  // (before attaching: not recorded)
  mem.set_write_log(&log);
  mem.write_entry(Mfn{9000}, 3, 1);
  mem.write_entry(Mfn{9000}, 4, 0);  // a frame once, however often it is written
  mem.write_entry(Mfn{4100}, 0, 0);  // writing zero into an unbacked frame is still a write
  (void)mem.read_u64(maddr_of(Mfn{2}, 0));
  mem.zero_frame(Mfn{63});
  mem.copy_frame(Mfn{64}, Mfn{1});
  mem.cmpxchg_u64(maddr_of(Mfn{65}, 0), 0, 7);
  std::vector<uint64_t> seen;
  log.for_each([&](uint64_t f) { seen.push_back(f); });
  EXPECT_EQ(seen, (std::vector<uint64_t>{63, 64, 65, 4100, 9000}));  // ascending
  EXPECT_TRUE(log.marked(4100));
  EXPECT_FALSE(log.marked(1));
  log.clear();
  EXPECT_TRUE(log.empty());
  EXPECT_FALSE(log.marked(9000));
  MachineMemory copy(mem, ledger);  // a copy starts with no log of its own
  copy.write_entry(Mfn{6}, 0, 1);
  EXPECT_TRUE(log.empty());
  mem.set_write_log(nullptr);
  mem.write_entry(Mfn{5}, 0, 1);
  EXPECT_TRUE(log.empty());
}

TEST(MachineMemory, OutOfRangeAccessIsAModelBug) {
  sim::Ledger ledger;
  MachineMemory mem(64, ledger);
  EXPECT_THROW(mem.read_u64(maddr_of(Mfn{64})), std::logic_error);
  EXPECT_THROW(mem.write_u64(Maddr{3}, 1), std::logic_error);
}

TEST(Pte, EncodesEveryArchitecturalBit) {
  using namespace pte_bits;
  const Pte p = Pte::make(Mfn{0x1234}, kPresent | kRw | kUser | kNx | kGlobal | kAvail1);
  EXPECT_EQ(p.mfn(), Mfn{0x1234});
  EXPECT_TRUE(p.present());
  EXPECT_TRUE(p.has(kRw | kUser | kNx | kGlobal | kAvail1));
  EXPECT_FALSE(p.has(kPcd));
  EXPECT_EQ(p.raw(), (uint64_t{0x1234} << 12) | 0x407 | kNx | kGlobal);
  EXPECT_EQ(describe_pte(p), "mfn 0x1234 P RW US G NX AVAIL");
}

TEST(Pte, IndicesAndCanonicalAddresses) {
  const Vaddr va = make_vaddr(273, 2, 3, 4, 0x18);
  EXPECT_EQ(va.value, 0xffff888080604018ULL);
  EXPECT_EQ(table_index(va, 4), 273u);
  EXPECT_EQ(table_index(va, 3), 2u);
  EXPECT_EQ(table_index(va, 2), 3u);
  EXPECT_EQ(table_index(va, 1), 4u);
  EXPECT_TRUE(is_canonical(va));
  EXPECT_FALSE(is_canonical(Vaddr{uint64_t{1} << 63}));
}

}  // namespace
}  // namespace pib::hw
