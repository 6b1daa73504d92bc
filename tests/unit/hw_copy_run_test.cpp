// SPDX-License-Identifier: MIT
// Is a copy run (Cpu::copy_run) the same as the accesses it stands for — a load of each source
// word and, for each word with a mask bit, the and-not of the bits the callback names and a
// store to the destination word: the same words copied, the same memory in both pages, the same
// charges and TLB afterwards (also where the two pages evict each other from a one-way TLB),
// ending at the same fault?
#include <gtest/gtest.h>

#include <vector>

#include "hw/cpu.hpp"

namespace pib::hw {
namespace {

using namespace pte_bits;

// One machine: a tree for va 0..3 pages (L4 frame 1 ... L1 frame 4, data frames 10..13); the
// source is page 0, the destination page 1 (or 2, which a one-way TLB of two sets maps onto the
// source's set).
struct Box {
  sim::Ledger ledger;
  MachineMemory mem{64, ledger};
  Cpu cpu;
  Box(TlbParams tlb, uint64_t dst_flags) : cpu(0, mem, ledger, tlb) {
    mem.write_entry(Mfn{1}, 0, Pte::make(Mfn{2}, kPresent | kRw | kUser).raw());
    mem.write_entry(Mfn{2}, 0, Pte::make(Mfn{3}, kPresent | kRw | kUser).raw());
    mem.write_entry(Mfn{3}, 0, Pte::make(Mfn{4}, kPresent | kRw | kUser).raw());
    mem.write_entry(Mfn{4}, 0, Pte::make(Mfn{10}, kPresent | kRw | kUser).raw());
    for (uint64_t p = 1; p < 4; ++p) {
      mem.write_entry(Mfn{4}, p, Pte::make(Mfn{10 + p}, dst_flags).raw());
    }
    for (uint64_t i : {3, 4, 5, 100, 200, 201, 511}) {
      mem.write_entry(Mfn{10}, i, (i << 12) | kPresent | (i % 2 == 0 ? kRw : 0));
    }
    mem.write_entry(Mfn{10}, 7, 0x1000);  // not present-looking: loaded, not copied
    cpu.mmu().load_cr3(Mfn{1}, true);
  }
  std::vector<uint64_t> churn() {
    for (uint64_t p : {1, 2, 3, 1}) EXPECT_TRUE(cpu.load(Vaddr{p << kPageShift}).ok);
    std::vector<uint64_t> vpns;
    for (const TlbEntry& e : cpu.mmu().tlb().valid_entries()) vpns.push_back(e.vpn);
    return vpns;
  }
  std::vector<uint64_t> frame(uint64_t mfn) const {
    std::vector<uint64_t> w;
    for (uint64_t i = 0; i < kEntriesPerTable; ++i) w.push_back(mem.read_entry(Mfn{mfn}, i));
    return w;
  }
};

// The fork-like callback: an RW word loses RW in the source, the copy is the word without RW
// and with bit 9 set; every call is recorded.
struct Calls {
  std::vector<uint32_t> indices;
};
CopyWord copy_word(void* context, uint32_t index, uint64_t word) {
  static_cast<Calls*>(context)->indices.push_back(index);
  CopyWord w;
  if ((word & kRw) != 0) w.clear_in_source = kRw;
  w.store = (word & ~kRw) | (1ULL << 9);
  return w;
}

CopyRun one_by_one(Box& b, Vaddr src, Vaddr dst, uint32_t count, Calls& calls) {
  CopyRun run;
  for (uint32_t i = 0; i < count; ++i) {
    const Vaddr from{src.value + uint64_t{i} * 8};
    const Vaddr to{dst.value + uint64_t{i} * 8};
    run.done = i + 1;
    run.last = b.cpu.load(from);
    if (!run.last.ok) return run;
    if ((run.last.value & kPresent) == 0) continue;
    const CopyWord w = copy_word(&calls, i, run.last.value);
    if (w.clear_in_source != 0) {
      run.last = b.cpu.access(MemRequest{from, MemOp::kAndNot, Mode::kUser, w.clear_in_source});
      if (!run.last.ok) return run;
    }
    run.last = b.cpu.store(to, w.store);
    if (!run.last.ok) return run;
    ++run.copied;
  }
  return run;
}

void expect_same(TlbParams tlb, uint64_t dst_page, uint32_t first, uint64_t dst_flags) {
  Box run(tlb, dst_flags), single(tlb, dst_flags);
  const Vaddr src{first * 8ULL};
  const Vaddr dst{(dst_page << kPageShift) + first * 8ULL};
  Calls got, want;
  const uint32_t count = kEntriesPerTable - first;
  const CopyRun r = run.cpu.copy_run(src, dst, count, Mode::kUser, kPresent, copy_word, &got);
  const CopyRun s = one_by_one(single, src, dst, count, want);
  EXPECT_EQ(r.done, s.done);
  EXPECT_EQ(r.copied, s.copied);
  EXPECT_EQ(r.last.ok, s.last.ok);
  EXPECT_EQ(r.last.value, s.last.value);
  EXPECT_EQ(got.indices, want.indices);
  EXPECT_EQ(run.frame(10), single.frame(10));
  EXPECT_EQ(run.frame(10 + dst_page), single.frame(10 + dst_page));
  EXPECT_EQ(run.ledger.counts(), single.ledger.counts());
  EXPECT_EQ(run.churn(), single.churn());
  EXPECT_EQ(run.ledger.counts(), single.ledger.counts());
}

TEST(CopyRun, IsThoseAccessesWithTheSameChargesMemoryAndTlb) {
  for (uint32_t first : {0u, 3u, 6u}) {
    expect_same(TlbParams{.entries = 4, .ways = 2}, 1, first, kPresent | kRw | kUser);
  }
  Box b(TlbParams{.entries = 4, .ways = 2}, kPresent | kRw | kUser);
  Calls calls;
  const CopyRun r = b.cpu.copy_run(Vaddr{0}, Vaddr{1ULL << kPageShift}, kEntriesPerTable,
                                   Mode::kUser, kPresent, copy_word, &calls);
  EXPECT_EQ(r.copied, 7u);
  EXPECT_EQ(b.mem.read_entry(Mfn{10}, 100), (100ULL << 12) | kPresent);  // lost RW
  EXPECT_EQ(b.mem.read_entry(Mfn{11}, 3), (3ULL << 12) | kPresent | (1ULL << 9));
  EXPECT_EQ(b.mem.read_entry(Mfn{11}, 7), 0u);  // not copied
}

TEST(CopyRun, PagesThatEvictEachOtherAreTheSameAsSingleAccesses) {
  // Two sets of one way: pages 0 and 2 share a set, so every access misses and walks.
  expect_same(TlbParams{.entries = 2, .ways = 1}, 2, 0, kPresent | kRw | kUser);
}

TEST(CopyRun, EndsAtTheStoreThatFaults) {
  expect_same(TlbParams{.entries = 4, .ways = 2}, 1, 0, kPresent | kUser);  // read-only copy
  Box b(TlbParams{.entries = 4, .ways = 2}, kPresent | kUser);
  Calls calls;
  const CopyRun r = b.cpu.copy_run(Vaddr{0}, Vaddr{1ULL << kPageShift}, 8, Mode::kUser, kPresent,
                                   copy_word, &calls);
  EXPECT_EQ(r.done, 4u);  // word 3 is present; its store faults
  EXPECT_EQ(r.copied, 0u);
  ASSERT_FALSE(r.last.ok);
  EXPECT_EQ(r.last.fault->error_code, pf_bits::kUser | pf_bits::kWrite | pf_bits::kProtection);
}

}  // namespace
}  // namespace pib::hw
