// SPDX-License-Identifier: MIT
// A machine restored from a snapshot (hw::Machine's copy): the same contents, CPU and IOMMU
// state as the original, charging its own ledger, and independent of the original afterwards.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "hw/machine.hpp"
#include "hw/pte.hpp"

namespace pib::hw {
namespace {

using namespace pte_bits;

TEST(MachineCopy, MemoryIsCopiedAndIndependent) {
  sim::Ledger ledger;
  MachineMemory mem(2048, ledger);
  mem.write_entry(Mfn{3}, 7, 42);
  mem.write_entry(Mfn{1500}, 0, 9);  // a second directory group
  sim::Ledger copy_ledger;
  MachineMemory copy(mem, copy_ledger);
  EXPECT_EQ(copy.read_entry(Mfn{3}, 7), 42u);
  EXPECT_EQ(copy.read_entry(Mfn{1500}, 0), 9u);
  EXPECT_EQ(copy.backed_frames(), mem.backed_frames());
  copy.write_entry(Mfn{3}, 7, 43);
  mem.write_entry(Mfn{1500}, 0, 10);
  EXPECT_EQ(mem.read_entry(Mfn{3}, 7), 42u) << "the copy shares no frame with the original";
  EXPECT_EQ(copy.read_entry(Mfn{1500}, 0), 9u);
  copy.zero_frame(Mfn{3});
  EXPECT_EQ(copy_ledger.count(sim::Event::kHwMemZeroPage), 1u) << "charged to the copy's ledger";
  EXPECT_EQ(ledger.count(sim::Event::kHwMemZeroPage), 0u);
}

// Restoring in place (the fuzzer's per-input reset): frames the copy wrote since are put
// back, frames it backed that the source lacks (even a whole directory group) are released, and
// frames it released come back.
TEST(MachineCopy, MemoryRestoredInPlace) {
  sim::Ledger ledger;
  MachineMemory mem(2048, ledger);
  mem.write_entry(Mfn{3}, 7, 42);
  mem.write_entry(Mfn{4}, 1, 8);
  sim::Ledger copy_ledger;
  MachineMemory copy(mem, copy_ledger);
  copy.write_entry(Mfn{3}, 7, 43);
  copy.zero_frame(Mfn{4});
  copy.write_entry(Mfn{5}, 0, 1);
  copy.write_entry(Mfn{1500}, 0, 9);  // a group the source has none of
  ASSERT_EQ(copy.backed_frames(), 3u);
  copy.restore(mem);
  EXPECT_EQ(copy.read_entry(Mfn{3}, 7), 42u);
  EXPECT_EQ(copy.read_entry(Mfn{4}, 1), 8u);
  EXPECT_EQ(copy.read_entry(Mfn{5}, 0), 0u);
  EXPECT_EQ(copy.read_entry(Mfn{1500}, 0), 0u);
  EXPECT_EQ(copy.backed_frames(), mem.backed_frames());
  sim::Ledger other_ledger;
  MachineMemory other(4096, other_ledger);
  EXPECT_THROW(other.restore(mem), ModelBug) << "a memory of another size is not a copy";
}

constexpr Vaddr kVa{0x400000};  // L4, L3 and L1 index 0, L2 index 2
constexpr Mfn kL1{13};

// Page tables in frames 10-13 mapping frame `data` at kVa; returns the root.
Mfn map_one_page(MachineMemory& mem, Mfn data) {
  const Mfn l4{10}, l3{11}, l2{12};
  const uint64_t table = kPresent | kRw | kUser;
  mem.write_entry(l4, 0, Pte::make(l3, table).raw());
  mem.write_entry(l3, 0, Pte::make(l2, table).raw());
  mem.write_entry(l2, 2, Pte::make(kL1, table).raw());
  mem.write_entry(kL1, 0, Pte::make(data, table | kAccessed | kDirty).raw());
  return l4;
}

TEST(MachineCopy, CpusKeepTheirTranslations) {
  sim::Ledger ledger;
  Machine m(MachineParams{.frames = 256, .cpus = 2, .tlb = {}, .iommu = std::nullopt}, ledger);
  const Vaddr va = kVa;
  const Mfn root = map_one_page(m.memory(), Mfn{20});
  m.cpu(1).mmu().load_cr3(root, true);
  ASSERT_TRUE(m.cpu(1).access(MemRequest{va, MemOp::kStore, Mode::kUser, 5}).ok);
  ASSERT_EQ(m.cpu(1).mmu().tlb().occupancy(), 1u);

  sim::Ledger copy_ledger;
  Machine copy(m, copy_ledger);
  EXPECT_EQ(copy.cpu_count(), 2u);
  EXPECT_EQ(copy.cpu(1).mmu().cr3(), root);
  EXPECT_EQ(copy.cpu(1).mmu().tlb().occupancy(), 1u);
  // The copy's TLB still holds the old translation: retargeting the leaf in the copy's memory
  // does not change where its next access goes, exactly as on the original.
  copy.memory().write_entry(kL1, 0, Pte::make(Mfn{21}, kPresent | kRw).raw());
  const auto r = copy.cpu(1).access(MemRequest{va, MemOp::kLoad});
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.value, 5u);
  EXPECT_EQ(copy_ledger.count(sim::Event::kHwTlbHit), 1u);
  EXPECT_EQ(m.memory().read_entry(kL1, 0) >> kPageShift, 20u)
      << "the original's page tables are untouched";
  copy.cpu(1).mmu().tlb().flush_all();
  EXPECT_EQ(m.cpu(1).mmu().tlb().occupancy(), 1u) << "nor its TLB";
}

// The copy's IOTLB holds what the original's did: a DMA through a translation whose I/O
// table entry was since cleared still hits (a missing invalidation is as visible in the copy).
TEST(MachineCopy, IotlbIsCopied) {
  sim::Ledger ledger;
  Machine m(MachineParams{.frames = 256, .cpus = 1, .tlb = {}, .iommu = IommuParams{}}, ledger);
  MachineMemory& mem = m.memory();
  const uint64_t link = iopte::kRead | iopte::kWrite;
  mem.write_entry(Mfn{1}, 0, (2ULL << kPageShift) | link);
  mem.write_entry(Mfn{2}, 0, (3ULL << kPageShift) | link);
  mem.write_entry(Mfn{3}, 0, (4ULL << kPageShift) | link);
  mem.write_entry(Mfn{4}, 5, (20ULL << kPageShift) | link);
  m.iommu()->set_context(0x100, 7, Mfn{1});
  ASSERT_TRUE(m.iommu()->dma_u64(0x100, 5 * 4096, true, 1).ok);
  mem.write_entry(Mfn{4}, 5, 0);  // no invalidation: the IOTLB still has the translation
  sim::Ledger copy_ledger;
  Machine copy(m, copy_ledger);
  EXPECT_TRUE(copy.iommu()->dma_u64(0x100, 5 * 4096, true, 2).ok);
  EXPECT_EQ(copy_ledger.count(sim::Event::kHwIotlbHit), 1u);
  EXPECT_EQ(copy.memory().read_u64(maddr_of(Mfn{20}, 0)), 2u);
  EXPECT_EQ(mem.read_u64(maddr_of(Mfn{20}, 0)), 1u) << "the write went to the copy's memory";
}

TEST(MachineCopy, IommuContextsAreCopied) {
  sim::Ledger ledger;
  Machine m(MachineParams{.frames = 256, .cpus = 1, .tlb = {}, .iommu = IommuParams{}}, ledger);
  m.iommu()->set_context(0x100, 1, Mfn{30});
  sim::Ledger copy_ledger;
  Machine copy(m, copy_ledger);
  ASSERT_NE(copy.iommu(), nullptr);
  EXPECT_NE(copy.iommu(), m.iommu());
  EXPECT_TRUE(copy.iommu()->translates(0x100));
  EXPECT_FALSE(copy.iommu()->translates(0x200));
  copy.iommu()->clear_context(0x100);
  EXPECT_TRUE(m.iommu()->translates(0x100)) << "the original's context tables are its own";
}

}  // namespace
}  // namespace pib::hw
