// SPDX-License-Identifier: MIT
// One execve of tiny-static (the real -nostdlib binary: three one-page segments, no bss, no
// RELRO) by a forked child under Xen, step by step as Linux 6.1 runs it (docs/guest-kernel.md
// traces the same exec):
//   bprm_mm_init + copy_strings  the argument page at STACK_TOP_MAX in the unpinned new mm: its
//                                L3/L2/L1 are plain stores, its PTE one direct mmu_update;
//   exec_mmap                    pin the new tree (one multicall of 1 + 1 + 2 + 4 entries), the
//                                CR3 switch (one mmuext_op), the old tree's unpin multicall;
//   setup_arg_pages              mprotect_fixup: one ptep_modify_prot_start/commit (an mmu_update
//                                of one request), no flush (the PTE does not change);
//                                shift_arg_pages (randomised stack only): move_page_tables
//                                allocates a new L2 (RO remap) and L1 (RO remap + pin, one
//                                multicall) through the pinned hooks with their set_pud/set_pmd,
//                                moves the PTE (a trapped xchg, then set_pte), flushes the old
//                                page (INVLPG); free_pgd_range clears the old pmd and pud entries
//                                and releases the old L1 (unpin + RW, a multicall) and L2 (RW),
//                                then one local flush; the two old tables wait for RCU;
//   create_elf_tables            the initial stack's words below a random offset of up to 8 KiB:
//                                each stack page they land on below the argument page faults.
#include <gtest/gtest.h>

#include "support/guest_fixture.hpp"

namespace pib {
namespace {

using guest::Pid;
using sim::Event;
using test::Delta;

system::GuestSystemConfig config(int randomize) {
  system::GuestSystemConfig c =
      test::guest_config(system::PvOpsKind::kXen, 1, 8192, xen::XenGeneration::kModern);
  c.randomize_va_space = randomize;
  return c;
}

struct Exec {
  Delta d;
  uint64_t u3 = 0, u2 = 0, u1 = 0;  // the old (forked) tree being unpinned
  uint64_t spill = 0;               // stack pages create_elf_tables faulted in
};

Exec exec_tiny(test::GuestFixture& fx) {
  auto& k = fx.k();
  const auto img = guest::builtin_image("tiny-static");
  const Pid parent = k.spawn(img);
  k.run_startup(parent, img);
  const Pid child = k.fork(parent);
  k.schedule(child);
  Exec e;
  e.u3 = k.mm(child).pt_pages[3];
  e.u2 = k.mm(child).pt_pages[2];
  e.u1 = k.mm(child).pt_pages[1];
  e.d = fx.measure([&] { k.exec(child, img); });
  const auto& mm = k.mm(child);
  const uint64_t arg_page = mm.stack_top - kPageSize;
  const uint64_t sp_page = mm.start_stack & ~(kPageSize - 1);
  e.spill = (arg_page - sp_page) / kPageSize;
  return e;
}

TEST(ExecCounts, FixedLayoutBuildsTheStackInPlace) {
  test::GuestFixture fx(config(0));
  const Exec e = exec_tiny(fx);
  const Delta& d = e.d;
  EXPECT_EQ(e.spill, 0u);  // no random offset: argv, envp and auxv fit in the argument page
  // The argument page's PTE, then the stack's ptep_modify_prot_commit: two single requests.
  EXPECT_EQ(d[Event::kXenHcMmuUpdate], 2u);
  EXPECT_EQ(d[Event::kXenMmuUpdateRequests], 2u);
  // Pin of the new tree (8 entries) and unpin of the old one.
  EXPECT_EQ(d[Event::kXenHcMulticall], 2u);
  EXPECT_EQ(d[Event::kXenMulticallEntries], 8 + (e.u3 + e.u2 + 2 * e.u1 + 3));
  EXPECT_EQ(d[Event::kXenHcMmuextOp] - d[Event::kXenMcSubMmuextOp], 1u);  // NEW_BASEPTR only
  EXPECT_EQ(d[Event::kXenHcUpdateVaMapping] - d[Event::kXenMcSubUpdateVaMapping], 0u);
  EXPECT_EQ(d[Event::kGuestPtAllocL1] + d[Event::kGuestPtAllocL2] + d[Event::kGuestPtAllocL3], 3u);
  EXPECT_EQ(d[Event::kXenPtwrEmulated], 0u);
  EXPECT_EQ(d[Event::kXenFaultBounced], 0u);
  EXPECT_EQ(fx.sys().audit(), std::vector<std::string>{});
}

TEST(ExecCounts, RandomisedStackIsMovedOnThePinnedTree) {
  test::GuestFixture fx(config(2));
  const Exec e = exec_tiny(fx);
  const Delta& d = e.d;
  EXPECT_LE(e.spill, 2u);
  // mmu_update: argument PTE, modify_prot commit, set_pud + set_pmd of the new tables, the moved
  // PTE, pmd_clear + pud_clear of the old ones; then one set_pte per spilled stack page. Each
  // clear drops a page-table reference Xen 4.17 puts in a continuation (old_guest_table): one
  // re-entry each.
  EXPECT_EQ(d[Event::kXenHcMmuUpdate], 7 + 2 + e.spill);
  EXPECT_EQ(d[Event::kXenMmuUpdateRequests], 7 + e.spill);
  // Pin, unpin, the new L1's RO remap + pin, the old L1's unpin + RW remap.
  EXPECT_EQ(d[Event::kXenHcMulticall], 4u);
  EXPECT_EQ(d[Event::kXenMulticallEntries], 8 + (e.u3 + e.u2 + 2 * e.u1 + 3) + 2 + 2);
  // The new L2's RO remap and the old one's RW remap are direct update_va_mappings.
  EXPECT_EQ(d[Event::kXenHcUpdateVaMapping] - d[Event::kXenMcSubUpdateVaMapping], 2u);
  // NEW_BASEPTR, the INVLPG after the move, the local flush after free_pgd_range.
  EXPECT_EQ(d[Event::kXenHcMmuextOp] - d[Event::kXenMcSubMmuextOp], 3u);
  EXPECT_EQ(d[Event::kXenPtwrEmulated], 1u);  // the old PTE's xchg
  EXPECT_EQ(d[Event::kGuestPtAllocL1], 2u);   // the argument page's, the moved stack's
  EXPECT_EQ(d[Event::kGuestPtAllocL2], 2u);
  EXPECT_EQ(d[Event::kGuestPtAllocL3], 1u);  // slot 255 stays: shared by both places
  EXPECT_EQ(d[Event::kXenFaultBounced], e.spill);
  // Freed after the grace period: the old tree's tables and the argument page's L1 and L2.
  EXPECT_EQ(d[Event::kGuestRcuTables], e.u3 + e.u2 + e.u1 + 2);
  EXPECT_EQ(fx.sys().audit(), std::vector<std::string>{});
}

}  // namespace
}  // namespace pib
