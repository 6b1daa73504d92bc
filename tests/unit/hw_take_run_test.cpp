// SPDX-License-Identifier: MIT
// Is a take run (Cpu::take_run) the same as the accesses it stands for — a load of each word
// and, for each word with a mask bit, a second load and a store of 0: the same words taken, the
// same memory, charges and TLB afterwards, the same D-bit walk, ending at the same fault?
#include <gtest/gtest.h>

#include <vector>

#include "hw/cpu.hpp"

namespace pib::hw {
namespace {

using namespace pte_bits;

// One machine: a tree for va 0..3 pages (L4 frame 1 ... L1 frame 4, data frames 10..13).
struct Box {
  sim::Ledger ledger;
  MachineMemory mem{64, ledger};
  Cpu cpu{0, mem, ledger, TlbParams{.entries = 4, .ways = 2}};
  explicit Box(uint64_t leaf_flags = kPresent | kRw | kUser) {
    mem.write_entry(Mfn{1}, 0, Pte::make(Mfn{2}, kPresent | kRw | kUser).raw());
    mem.write_entry(Mfn{2}, 0, Pte::make(Mfn{3}, kPresent | kRw | kUser).raw());
    mem.write_entry(Mfn{3}, 0, Pte::make(Mfn{4}, kPresent | kRw | kUser).raw());
    for (uint64_t p = 0; p < 4; ++p) {
      mem.write_entry(Mfn{4}, p, Pte::make(Mfn{10 + p}, leaf_flags).raw());
    }
    for (uint64_t i : {3, 4, 5, 100, 200, 201, 511}) mem.write_entry(Mfn{10}, i, (i << 12) | 1);
    mem.write_entry(Mfn{10}, 7, 0x1000);  // not present-looking: loaded, not taken
    cpu.mmu().load_cr3(Mfn{1}, true);
  }
  // Touch other pages so that the TLB's LRU order decides what stays.
  std::vector<uint64_t> churn() {
    for (uint64_t p : {1, 2, 3, 1}) EXPECT_TRUE(cpu.load(Vaddr{p << kPageShift}).ok);
    std::vector<uint64_t> vpns;
    for (const TlbEntry& e : cpu.mmu().tlb().valid_entries()) vpns.push_back(e.vpn);
    return vpns;
  }
  std::vector<uint64_t> page() const {
    std::vector<uint64_t> w;
    for (uint64_t i = 0; i < kEntriesPerTable; ++i) w.push_back(mem.read_entry(Mfn{10}, i));
    return w;
  }
};

// The accesses one at a time, as take_run documents them.
TakeRun one_by_one(Box& b, Vaddr va, uint32_t count, std::vector<TakenWord>& taken) {
  TakeRun run;
  for (uint32_t i = 0; i < count; ++i) {
    const Vaddr word{va.value + uint64_t{i} * 8};
    run.done = i + 1;
    run.last = b.cpu.load(word);
    if (!run.last.ok) return run;
    if ((run.last.value & kPresent) == 0) continue;
    run.last = b.cpu.load(word);
    if (!run.last.ok) return run;
    const uint64_t value = run.last.value;
    run.last = b.cpu.store(word, 0);
    if (!run.last.ok) return run;
    taken.push_back(TakenWord{i, value});
    ++run.taken;
  }
  return run;
}

void expect_same(Box& run, Box& single, Vaddr va, uint32_t count) {
  std::vector<TakenWord> got(count), want;
  const TakeRun r = run.cpu.take_run(va, count, Mode::kUser, kPresent, got.data());
  const TakeRun s = one_by_one(single, va, count, want);
  EXPECT_EQ(r.done, s.done);
  ASSERT_EQ(r.taken, s.taken);
  EXPECT_EQ(r.last.ok, s.last.ok);
  EXPECT_EQ(r.last.value, s.last.value);
  for (uint32_t i = 0; i < r.taken; ++i) {
    EXPECT_EQ(got[i].index, want[i].index);
    EXPECT_EQ(got[i].value, want[i].value);
  }
  EXPECT_EQ(run.page(), single.page());
  EXPECT_EQ(run.ledger.counts(), single.ledger.counts());
  EXPECT_EQ(run.churn(), single.churn());
  EXPECT_EQ(run.ledger.counts(), single.ledger.counts());
}

TEST(TakeRun, IsThoseAccessesWithTheSameChargesMemoryAndTlb) {
  for (uint32_t first : {0u, 3u, 6u}) {
    Box run, single;
    expect_same(run, single, Vaddr{first * 8ULL}, kEntriesPerTable - first);
    EXPECT_EQ(run.ledger.count(sim::Event::kHwTlbInvlpg), 1u);  // the first store sets D
  }
}

TEST(TakeRun, StartsFromACachedEntryAsALoadWould) {
  Box run, single;
  for (Box* b : {&run, &single}) {
    ASSERT_TRUE(b->cpu.store(Vaddr{8}, 0).ok);  // cached, dirty
  }
  expect_same(run, single, Vaddr{16}, 300);
}

TEST(TakeRun, EndsAtTheStoreThatFaults) {
  Box run(kPresent | kUser), single(kPresent | kUser);  // a read-only page
  expect_same(run, single, Vaddr{0}, kEntriesPerTable);
  std::vector<TakenWord> got(8);
  Box b(kPresent | kUser);
  const TakeRun r = b.cpu.take_run(Vaddr{0}, 8, Mode::kUser, kPresent, got.data());
  EXPECT_EQ(r.done, 4u);  // word 3 is present; its store faults
  EXPECT_EQ(r.taken, 0u);
  ASSERT_FALSE(r.last.ok);
  EXPECT_EQ(r.last.fault->error_code, pf_bits::kUser | pf_bits::kWrite | pf_bits::kProtection);
}

}  // namespace
}  // namespace pib::hw
