// SPDX-License-Identifier: MIT
// Does the walker translate, set A/D, fault with the architectural error code, and does the TLB
// behave like hardware (including stale entries that keep translating until flushed)?
#include <gtest/gtest.h>

#include "hw/cpu.hpp"

namespace pib::hw {
namespace {

using namespace pte_bits;

class MmuTest : public ::testing::Test {
 protected:
  sim::Ledger ledger;
  MachineMemory mem{64, ledger};
  Cpu cpu{0, mem, ledger, TlbParams{.entries = 8, .ways = 2}};
  // Tree: L4 frame 1 -> L3 frame 2 -> L2 frame 3 -> L1 frame 4 -> data frames 10.. for va 0.
  void SetUp() override {
    mem.write_entry(Mfn{1}, 0, Pte::make(Mfn{2}, kPresent | kRw | kUser).raw());
    mem.write_entry(Mfn{2}, 0, Pte::make(Mfn{3}, kPresent | kRw | kUser).raw());
    mem.write_entry(Mfn{3}, 0, Pte::make(Mfn{4}, kPresent | kRw | kUser).raw());
    mem.write_entry(Mfn{4}, 0, Pte::make(Mfn{10}, kPresent | kRw | kUser).raw());
    mem.write_entry(Mfn{4}, 1, Pte::make(Mfn{11}, kPresent | kUser | kNx).raw());
    mem.write_entry(Mfn{4}, 2, Pte::make(Mfn{12}, kPresent | kRw).raw());
    cpu.mmu().load_cr3(Mfn{1}, true);
  }
  static Vaddr page(uint64_t n, uint64_t off = 0) { return Vaddr{(n << 12) + off}; }
};

TEST_F(MmuTest, TranslatesAndSetsAccessedAndDirty) {
  EXPECT_TRUE(cpu.store(page(0, 8), 77).ok);
  EXPECT_EQ(mem.read_entry(Mfn{10}, 1), 77u);
  EXPECT_TRUE(Pte{mem.read_entry(Mfn{4}, 0)}.has(kAccessed | kDirty));
  EXPECT_TRUE(Pte{mem.read_entry(Mfn{1}, 0)}.has(kAccessed));
  EXPECT_FALSE(Pte{mem.read_entry(Mfn{4}, 1)}.has(kAccessed));
}

TEST_F(MmuTest, FaultsCarryTheArchitecturalErrorCode) {
  auto r = cpu.store(page(1), 1);  // read-only user page
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.fault->error_code, pf_bits::kProtection | pf_bits::kWrite | pf_bits::kUser);
  r = cpu.load(page(2));  // supervisor-only page accessed from user mode
  EXPECT_EQ(r.fault->error_code, pf_bits::kProtection | pf_bits::kUser);
  r = cpu.access(MemRequest{page(1), MemOp::kFetch});  // NX
  EXPECT_EQ(r.fault->error_code, pf_bits::kProtection | pf_bits::kUser | pf_bits::kInstruction);
  r = cpu.load(page(5));  // not present
  EXPECT_EQ(r.fault->error_code, pf_bits::kUser);
  EXPECT_TRUE(cpu.load(page(2), Mode::kSupervisor).ok);
  EXPECT_FALSE(cpu.store(page(1), 1, Mode::kSupervisor).ok) << "CR0.WP applies to supervisor";
}

TEST_F(MmuTest, ReservedBitsFault) {
  mem.write_entry(Mfn{4}, 3, Pte::make(Mfn{13}, kPresent | kUser).raw() | (uint64_t{1} << 50));
  const auto r = cpu.load(page(3));
  ASSERT_FALSE(r.ok);
  EXPECT_TRUE(r.fault->error_code & pf_bits::kReserved);
}

TEST_F(MmuTest, LargePagesTranslate) {
  mem.write_entry(Mfn{3}, 1, Pte::make(Mfn{512}, kPresent | kRw | kUser | kPse).raw());
  // 2 MiB page at va 2 MiB backed by frames 512..1023; memory only has 64 frames, so the walker
  // must refuse the frame beyond memory rather than touch it.
  EXPECT_FALSE(cpu.load(Vaddr{(2u << 20) + 4096}).ok);
  mem.write_entry(Mfn{3}, 1, Pte::make(Mfn{0}, kPresent | kRw | kUser | kPse).raw());
  EXPECT_TRUE(cpu.store(Vaddr{(2u << 20) + 3 * 4096 + 16}, 9).ok);
  EXPECT_EQ(mem.read_entry(Mfn{3}, 2), 9u);
}

TEST_F(MmuTest, StaleTlbEntryKeepsTranslatingUntilFlushed) {
  EXPECT_TRUE(cpu.store(page(0), 1).ok);
  // Software retargets the mapping without flushing: the CPU keeps using the old frame.
  mem.write_entry(Mfn{4}, 0, Pte::make(Mfn{20}, kPresent | kRw | kUser | kDirty).raw());
  EXPECT_TRUE(cpu.store(page(0), 2).ok);
  EXPECT_EQ(mem.read_entry(Mfn{10}, 0), 2u);
  EXPECT_EQ(mem.read_entry(Mfn{20}, 0), 0u);
  cpu.mmu().tlb().invlpg(page(0));
  EXPECT_TRUE(cpu.store(page(0), 3).ok);
  EXPECT_EQ(mem.read_entry(Mfn{20}, 0), 3u);
}

TEST_F(MmuTest, Cr3LoadDropsNonGlobalEntriesOnly) {
  mem.write_entry(Mfn{4}, 4, Pte::make(Mfn{14}, kPresent | kUser | kGlobal).raw());
  EXPECT_TRUE(cpu.load(page(0)).ok);
  EXPECT_TRUE(cpu.load(page(4)).ok);
  EXPECT_EQ(cpu.mmu().tlb().occupancy(), 2u);
  cpu.mmu().load_cr3(Mfn{1}, false);
  EXPECT_EQ(cpu.mmu().tlb().occupancy(), 1u);
  cpu.mmu().load_cr3(Mfn{1}, true);
  EXPECT_EQ(cpu.mmu().tlb().occupancy(), 0u);
}

TEST_F(MmuTest, TlbCountsHitsMissesAndEvictsLru) {
  const uint64_t walks0 = ledger.count(sim::Event::kHwWalk);
  EXPECT_TRUE(cpu.load(page(0)).ok);
  EXPECT_TRUE(cpu.load(page(0)).ok);
  EXPECT_EQ(ledger.count(sim::Event::kHwWalk) - walks0, 1u);
  EXPECT_GE(ledger.count(sim::Event::kHwTlbHit), 1u);
  // 8 entries, 2 ways: pages 0, 4, 8 share a set; the third evicts the least recently used.
  for (uint64_t n : {4u, 8u}) {
    mem.write_entry(Mfn{4}, n, Pte::make(Mfn{20 + n}, kPresent | kUser).raw());
  }
  EXPECT_TRUE(cpu.load(page(4)).ok);
  EXPECT_TRUE(cpu.load(page(0)).ok);  // 0 is now most recent
  EXPECT_TRUE(cpu.load(page(8)).ok);  // evicts 4
  const uint64_t walks1 = ledger.count(sim::Event::kHwWalk);
  EXPECT_TRUE(cpu.load(page(0)).ok);
  EXPECT_EQ(ledger.count(sim::Event::kHwWalk), walks1);
  EXPECT_TRUE(cpu.load(page(4)).ok);
  EXPECT_EQ(ledger.count(sim::Event::kHwWalk), walks1 + 1);
}

TEST(TlbParams, BadGeometryIsAnInputError) {
  sim::Ledger ledger;
  EXPECT_THROW(Tlb(TlbParams{.entries = 6, .ways = 4}, ledger), std::runtime_error);
}

}  // namespace
}  // namespace pib::hw
