// SPDX-License-Identifier: MIT
// Hypercall and hypervisor-work counts of the Xen PV paths against xen-pv-mmu.md section B4.
// Every expectation is the spec's formula written with the process's own page-table counts
// (U3/U2/U1 for the tree being unpinned, C3/C2/C1 for the one being pinned).
#include <gtest/gtest.h>

#include "support/guest_fixture.hpp"

namespace pib {
namespace {

using guest::Pid;
using sim::Event;
using test::Delta;
using test::GuestFixture;

constexpr uint64_t kRw = guest::prot::kRead | guest::prot::kWrite;

class XenCounts : public ::testing::Test {
 protected:
  XenCounts() : fx_(system::PvOpsKind::kXen) {
    const auto img = guest::builtin_image("tiny-static");
    parent_ = fx_.k().spawn(img);
    fx_.k().run_startup(parent_, img);
  }
  uint64_t u(Pid p, unsigned level) { return fx_.k().mm(p).pt_pages[level]; }
  // Anonymous pages written at `at` (fixed address), `pages` of them.
  void populate(Pid p, uint64_t at, uint64_t pages) {
    fx_.k().mmap(p, [&] {
      auto r = guest::MapRequest::anonymous(pages * kPageSize, kRw);
      r.fixed_address = at;
      return r;
    }());
    for (uint64_t i = 0; i < pages; ++i) ASSERT_TRUE(fx_.k().store(p, at + i * kPageSize, i));
  }
  GuestFixture fx_;
  Pid parent_ = 0;
};

TEST_F(XenCounts, ForkPinsTheChildTreeInOneBatch) {
  auto& k = fx_.k();
  // Three more L1 tables under a new L3/L2 (slot 128): 3 x 2 MiB, 10 pages written in each.
  for (uint64_t i = 0; i < 3; ++i) populate(parent_, 0x400000000000ULL + i * (2ULL << 20), 10);
  uint64_t anon_ptes = 0, writable = 0;
  for (const auto& [start, vma] : k.mm(parent_).vmas) {
    if (!vma.anon_vma) continue;
    for (uint64_t va = vma.start; va < vma.end; va += kPageSize) {
      const hw::Pte pte = k.pte_of(parent_, va);
      if (pte.present()) ++anon_ptes;
      if (pte.present() && pte.has(hw::pte_bits::kRw)) ++writable;
    }
  }
  Pid child = 0;
  const Delta d = fx_.measure([&] { child = k.fork(parent_); });
  const uint64_t c3 = u(child, 3), c2 = u(child, 2), c1 = u(child, 1);
  // tiny (the real -nostdlib binary) has no writable segment, so dup_mmap copies no table of the
  // program: its pages are refaulted. Copied: pgd slots 128 (the new area) and 255 (stack).
  EXPECT_EQ(c3, 2u);
  EXPECT_EQ(c2, 2u);
  EXPECT_EQ(c1, 4u);  // the three new L1s and the stack's
  // Step 2: N child PTEs as queued requests; W parent PTEs write-protected by trapped writes.
  EXPECT_EQ(d[Event::kXenMmuUpdateRequests], anon_ptes);
  EXPECT_EQ(d[Event::kXenPtwrEmulated], writable);
  // Step 3: E = C3 + C2 + 2*C1 + 4 multicall entries with C1 + 2 mmuext ops (one multicall).
  EXPECT_EQ(d[Event::kXenHcMulticall], 1u);
  EXPECT_EQ(d[Event::kXenMulticallEntries], c3 + c2 + 2 * c1 + 4);
  EXPECT_EQ(d[Event::kXenMcSubMmuextOp], c1 + 2);
  EXPECT_EQ(d[Event::kXenPin], c1 + 2);
  EXPECT_EQ(d[Event::kXenMcSubUpdateVaMapping], c3 + c2 + c1 + 2);
  // Xen: C3+C2+C1+2 type changes writable -> PT, each a full validation scan.
  EXPECT_EQ(d[Event::kXenTypeChangeToPt], c3 + c2 + c1 + 2);
  EXPECT_EQ(d[Event::kXenValidateTables], c3 + c2 + c1 + 2);
  EXPECT_EQ(d[Event::kXenValidateEntriesScanned], 512 * (c3 + c2 + c1 + 2));
  // Two UVMF_TLB_FLUSH pgd remaps plus step 4's flush_tlb_mm(parent) (TLB_FLUSH_LOCAL).
  EXPECT_EQ(d[Event::kXenTlbFlushGuestReq], 3u);
  EXPECT_EQ(d[Event::kXenMmuextOps], c1 + 2 + 1);
  EXPECT_EQ(d[Event::kGuestPgdPin], 1u);
  EXPECT_EQ(d[Event::kXenL4XenSlotsWritten], 2u);
  EXPECT_EQ(fx_.sys().audit(), std::vector<std::string>{});
}

TEST_F(XenCounts, ExitDropsTheBaseThenUnpinsAndTearsDownWithoutHypercalls) {
  auto& k = fx_.k();
  for (uint64_t i = 0; i < 2; ++i) populate(parent_, 0x400000000000ULL + i * (2ULL << 20), 40);
  const uint64_t u3 = u(parent_, 3), u2 = u(parent_, 2), u1 = u(parent_, 1);
  const Delta d = fx_.measure([&] { k.exit(parent_); });
  // Step 1: leave_mm -> one mmuext_op with NEW_BASEPTR(swapper) + NEW_USER_BASEPTR(0).
  EXPECT_EQ(d[Event::kXenNewBaseptr], 1u);
  EXPECT_EQ(d[Event::kXenNewUserBaseptr], 1u);
  EXPECT_EQ(d[Event::kXenHcMmuextOp] - d[Event::kXenMcSubMmuextOp], 1u);
  // Step 2: E = U3 + U2 + 2*U1 + 3 entries, U1 + 2 unpins, one RW remap per table.
  EXPECT_EQ(d[Event::kXenHcMulticall], 1u);
  EXPECT_EQ(d[Event::kXenMulticallEntries], u3 + u2 + 2 * u1 + 3);
  EXPECT_EQ(d[Event::kXenUnpin], u1 + 2);
  EXPECT_EQ(d[Event::kXenMcSubUpdateVaMapping], u3 + u2 + u1 + 2);
  EXPECT_EQ(d[Event::kXenDevalidateTables], u3 + u2 + u1 + 2);
  EXPECT_EQ(d[Event::kXenTypeChangeToWritable], u3 + u2 + u1 + 2);
  // Steps 3-6: plain stores on unpinned tables: no mmu_update, no trapped writes.
  EXPECT_EQ(d[Event::kXenHcMmuUpdate], 0u);
  EXPECT_EQ(d[Event::kXenPtwrEmulated], 0u);
  // The tables reach the allocator after an RCU grace period (tlb_remove_table), the pgd at
  // once (pgd_free).
  EXPECT_EQ(d[Event::kGuestPtFreeL1], 0u);
  EXPECT_EQ(d[Event::kGuestRcuTables], u3 + u2 + u1);
  const Delta gp = fx_.measure([&] { k.core().rcu_quiescent(0); });
  EXPECT_EQ(gp[Event::kGuestPtFreeL1], u1);
  EXPECT_EQ(d[Event::kGuestPgdFree], 1u);
  EXPECT_EQ(fx_.sys().audit(), std::vector<std::string>{});
}

// exec: tests/guest/exec_counts_test.cpp states its whole sequence, with and without
// randomisation.

TEST_F(XenCounts, DemandFaultNeedingOnlyANewL1) {
  auto& k = fx_.k();
  populate(parent_, 0x400000000000ULL, 1);  // L3 and L2 of the area now exist
  const uint64_t a = 0x400000000000ULL + (2ULL << 20);
  k.mmap(parent_, [&] {
    auto r = guest::MapRequest::anonymous(kPageSize, kRw);
    r.fixed_address = a;
    return r;
  }());
  const Delta d = fx_.measure([&] { ASSERT_TRUE(k.store(parent_, a, 1)); });
  // mc(2: RO remap + PIN_L1) + set_pmd mmu_update + set_pte mmu_update = 3 hypercalls.
  EXPECT_EQ(d[Event::kXenHcMulticall], 1u);
  EXPECT_EQ(d[Event::kXenMulticallEntries], 2u);
  EXPECT_EQ(d[Event::kXenHcMmuUpdate], 2u);
  EXPECT_EQ(d[Event::kXenHcMmuUpdate] + d[Event::kXenHcMulticall] - d[Event::kXenMcSubMmuUpdate],
            3u);
  EXPECT_EQ(d[Event::kXenTypeChangeToPt], 1u);
  EXPECT_EQ(d[Event::kXenValidateTables], 1u);
  EXPECT_EQ(d[Event::kXenTlbFlushMmuUpdate], 1u);  // XSA-286 flush after the L2 write
  EXPECT_EQ(d[Event::kGuestPtAllocL1], 1u);
  EXPECT_EQ(d[Event::kXenFaultBounced], 1u);
}

TEST_F(XenCounts, DemandFaultNeedingAllThreeLevels) {
  auto& k = fx_.k();
  const uint64_t a = 0x500000000000ULL;  // a pgd slot with nothing below it yet
  k.mmap(parent_, [&] {
    auto r = guest::MapRequest::anonymous(kPageSize, kRw);
    r.fixed_address = a;
    return r;
  }());
  const Delta d = fx_.measure([&] { ASSERT_TRUE(k.store(parent_, a, 1)); });
  // L3: RO remap (direct) + set_p4d (1 mmu_update, 2 requests); L2: RO remap + set_pud;
  // L1: mc(2) + set_pmd; leaf: set_pte.
  EXPECT_EQ(d[Event::kXenHcUpdateVaMapping] - d[Event::kXenMcSubUpdateVaMapping], 2u);
  EXPECT_EQ(d[Event::kXenHcMulticall], 1u);
  EXPECT_EQ(d[Event::kXenHcMmuUpdate], 4u);
  EXPECT_EQ(d[Event::kXenMmuUpdateRequests], 5u);
  EXPECT_EQ(d[Event::kXenTypeChangeToPt], 3u);
  EXPECT_EQ(d[Event::kXenTlbFlushMmuUpdate], 3u);  // one per mmu_update touching L2-L4
}

TEST_F(XenCounts, MunmapFreeingOneTableAtEachLevel) {
  auto& k = fx_.k();
  const uint64_t a = 0x600000000000ULL;
  const uint64_t n = 8;
  populate(parent_, a, n);
  const Delta d = fx_.measure([&] { k.munmap(parent_, a, n * kPageSize); });
  // Step 1: n native xchg clears, each trapped and emulated.
  EXPECT_EQ(d[Event::kXenPtwrEmulated], n);
  // Step 2: n <= 33 pages: one INVLPG_LOCAL each.
  EXPECT_EQ(d[Event::kXenInvlpgLocal], n);
  // Step 3: k1 = k2 = k3 = 1: 2*(k1+k2+k3) = 6 table hypercalls: three parent-entry
  // mmu_updates (the pgd one with 2 requests), the L1's mc(UNPIN + RW remap), two RW remaps.
  EXPECT_EQ(d[Event::kXenHcMmuUpdate] - d[Event::kXenContinuation], 3u);
  EXPECT_EQ(d[Event::kXenMmuUpdateRequests], 4u);
  // Each cleared link's type reference is dropped through old_guest_table (Xen 4.12+), which
  // costs a continuation: one per cleared entry (the pgd clear has two).
  EXPECT_EQ(d[Event::kXenContinuation], 4u);
  EXPECT_EQ(d[Event::kXenHcMulticall], 1u);
  EXPECT_EQ(d[Event::kXenHcUpdateVaMapping] - d[Event::kXenMcSubUpdateVaMapping], 2u);
  EXPECT_EQ(d[Event::kXenUnpin], 1u);
  EXPECT_EQ(d[Event::kXenDevalidateTables], 3u);
  EXPECT_EQ(d[Event::kXenTypeChangeToWritable], 3u);
  EXPECT_EQ(d[Event::kGuestRcuTables], 3u);
  const Delta gp = fx_.measure([&] { k.core().rcu_quiescent(0); });  // the grace period ends
  EXPECT_EQ(gp[Event::kGuestPtFreeL1] + gp[Event::kGuestPtFreeL2] + gp[Event::kGuestPtFreeL3], 3u);
  EXPECT_EQ(fx_.sys().audit(), std::vector<std::string>{});
}

TEST_F(XenCounts, CopyLoopBatchesAtMost31RequestsPerHypercall) {
  auto& k = fx_.k();
  populate(parent_, 0x400000000000ULL, 512);  // one full L1 of private anonymous pages
  const Delta d = fx_.measure([&] { k.fork(parent_); });
  // 512 PTEs of that L1 -> ceil(512/31) = 17 hypercalls; the program's own VMAs add theirs.
  uint64_t others = 0;
  for (const auto& [start, vma] : k.mm(parent_).vmas) {
    if (vma.anon_vma && vma.start != 0x400000000000ULL) {
      uint64_t present = 0;
      for (uint64_t va = vma.start; va < vma.end; va += kPageSize)
        present += k.pte_of(parent_, va).present() ? 1 : 0;
      others += (present + 30) / 31;
    }
  }
  EXPECT_EQ(d[Event::kXenHcMmuUpdate], 17 + others);
  EXPECT_EQ(d[Event::kXenMcSubMmuUpdate], 0u);  // lazy batches of one entry go out directly
}

}  // namespace
}  // namespace pib
