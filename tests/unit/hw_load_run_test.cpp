// SPDX-License-Identifier: MIT
// Is a run of loads (Cpu::load_run) the same as that many single loads: the same words, the
// same charges and clock, the same TLB afterwards, ending where the header says it ends?
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
  Box() {
    mem.write_entry(Mfn{1}, 0, Pte::make(Mfn{2}, kPresent | kRw | kUser).raw());
    mem.write_entry(Mfn{2}, 0, Pte::make(Mfn{3}, kPresent | kRw | kUser).raw());
    mem.write_entry(Mfn{3}, 0, Pte::make(Mfn{4}, kPresent | kRw | kUser).raw());
    for (uint64_t p = 0; p < 4; ++p) {
      mem.write_entry(Mfn{4}, p, Pte::make(Mfn{10 + p}, kPresent | kRw | kUser).raw());
    }
    mem.write_entry(Mfn{10}, 7, 0x1000);  // not present-looking
    mem.write_entry(Mfn{10}, 300, 0x2001);
    cpu.mmu().load_cr3(Mfn{1}, true);
  }
  // Touch other pages so that the TLB's LRU order decides what stays.
  std::vector<uint64_t> churn() {
    for (uint64_t p : {1, 2, 3, 1}) EXPECT_TRUE(cpu.load(Vaddr{p << kPageShift}).ok);
    std::vector<uint64_t> vpns;
    for (const TlbEntry& e : cpu.mmu().tlb().valid_entries()) vpns.push_back(e.vpn);
    return vpns;
  }
};

// The loads one at a time, stopping as load_run documents.
uint32_t one_by_one(Box& b, Vaddr va, uint32_t count, uint64_t stop_mask,
                    std::vector<uint64_t>& words) {
  for (uint32_t i = 0; i < count; ++i) {
    const MemResult r = b.cpu.load(Vaddr{va.value + uint64_t{i} * 8});
    EXPECT_TRUE(r.ok);
    words.push_back(r.value);
    if ((r.value & stop_mask) != 0 || b.cpu.timer_interrupt_pending()) return i + 1;
  }
  return count;
}

TEST(LoadRun, IsThatManyLoadsWithTheSameChargesAndTlb) {
  for (uint64_t stop_mask : {uint64_t{0}, kPresent}) {
    Box run, single;
    std::vector<uint64_t> got(512), want;
    const LoadRun r = run.cpu.load_run(Vaddr{0}, 512, Mode::kUser, stop_mask, got.data());
    const uint32_t n = one_by_one(single, Vaddr{0}, 512, stop_mask, want);
    ASSERT_EQ(r.done, n);
    EXPECT_EQ(r.done, stop_mask != 0 ? 301u : 512u);
    got.resize(r.done);
    EXPECT_EQ(got, want);
    EXPECT_EQ(r.last.value, want.back());
    EXPECT_EQ(run.ledger.counts(), single.ledger.counts());
    EXPECT_EQ(run.churn(), single.churn());
    EXPECT_EQ(run.ledger.counts(), single.ledger.counts());
  }
}

TEST(LoadRun, EndsAfterTheLoadThatMadeTheTimerPending) {
  Box run, single;
  std::array<double, sim::kEventCount> unit{};
  unit[static_cast<std::size_t>(sim::Event::kHwTlbHit)] = 1.0;
  unit[static_cast<std::size_t>(sim::Event::kHwTlbMiss)] = 10.0;
  for (Box* b : {&run, &single}) {
    b->ledger.set_clock(unit);
    b->cpu.set_timer_deadline(b->cpu.now_ns() + 50.5);
  }
  const LoadRun r = run.cpu.load_run(Vaddr{8}, 200, Mode::kUser);
  std::vector<uint64_t> want;
  EXPECT_EQ(r.done, one_by_one(single, Vaddr{8}, 200, 0, want));
  EXPECT_LT(r.done, 200u);
  EXPECT_EQ(run.cpu.now_ns(), single.cpu.now_ns());
  EXPECT_TRUE(run.cpu.timer_interrupt_pending());
  EXPECT_EQ(run.ledger.counts(), single.ledger.counts());
}

TEST(LoadRun, EndsAtAFaultWithTheFaultOfThatLoad) {
  Box b;
  const LoadRun r = b.cpu.load_run(Vaddr{5 << kPageShift}, 4, Mode::kUser);
  EXPECT_EQ(r.done, 1u);
  ASSERT_FALSE(r.last.ok);
  EXPECT_EQ(r.last.fault->error_code, pf_bits::kUser);
}

}  // namespace
}  // namespace pib::hw
