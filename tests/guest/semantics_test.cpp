// SPDX-License-Identifier: MIT
// What processes observe through their own memory accesses, under both pv-ops: fork shares
// contents, copy-on-write isolates writes both ways, exec replaces the image, munmap makes
// addresses fault, and exit gives every frame back.
#include <gtest/gtest.h>

#include "guest/page_cache.hpp"
#include "support/guest_fixture.hpp"

namespace pib {
namespace {

using guest::Pid;
using system::PvOpsKind;
using test::GuestFixture;

class Semantics : public ::testing::TestWithParam<PvOpsKind> {
 protected:
  Semantics() : fx_(GetParam()) {}
  Pid start(const std::string& image = "lmbench-hello") {
    const auto img = guest::builtin_image(image);
    const Pid p = fx_.k().spawn(img);
    fx_.k().run_startup(p, img);
    return p;
  }
  uint64_t anon_area(Pid p, uint64_t pages) {
    return fx_.k().mmap(p, guest::MapRequest::anonymous(pages * kPageSize));
  }
  GuestFixture fx_;
};

TEST_P(Semantics, ChildReadsParentDataAfterFork) {
  auto& k = fx_.k();
  const Pid parent = start();
  const uint64_t a = anon_area(parent, 4);
  for (uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(k.store(parent, a + i * kPageSize, 100 + i));
  const Pid child = k.fork(parent);
  for (uint64_t i = 0; i < 4; ++i) EXPECT_EQ(k.load(child, a + i * kPageSize), 100 + i);
}

TEST_P(Semantics, CopyOnWriteIsolatesBothWays) {
  auto& k = fx_.k();
  const Pid parent = start();
  const uint64_t a = anon_area(parent, 2);
  ASSERT_TRUE(k.store(parent, a, 1));
  ASSERT_TRUE(k.store(parent, a + kPageSize, 2));
  const Pid child = k.fork(parent);
  ASSERT_TRUE(k.store(child, a, 10));               // child writes first page
  ASSERT_TRUE(k.store(parent, a + kPageSize, 20));  // parent writes second page
  EXPECT_EQ(k.load(parent, a), 1u);
  EXPECT_EQ(k.load(child, a), 10u);
  EXPECT_EQ(k.load(child, a + kPageSize), 2u);
  EXPECT_EQ(k.load(parent, a + kPageSize), 20u);
  // Each now has its own frame for both pages.
  EXPECT_NE(k.pte_of(parent, a).mfn(), k.pte_of(child, a).mfn());
  EXPECT_NE(k.pte_of(parent, a + kPageSize).mfn(), k.pte_of(child, a + kPageSize).mfn());
}

TEST_P(Semantics, PrivateFileWritesDoNotReachTheFileOrOtherProcesses) {
  auto& k = fx_.k();
  const Pid p = start();
  const uint32_t file = k.page_cache().file("data.bin", 4);
  const uint64_t a = k.mmap(
      p,
      guest::MapRequest::of_file(file, 0, 4 * kPageSize, guest::prot::kRead | guest::prot::kWrite));
  EXPECT_EQ(k.load(p, a + kPageSize), guest::content_tag(file, 1));
  ASSERT_TRUE(k.store(p, a + kPageSize, 7));
  const Pid q = start();
  const uint64_t b =
      k.mmap(q, guest::MapRequest::of_file(file, 0, 4 * kPageSize, guest::prot::kRead));
  EXPECT_EQ(k.load(q, b + kPageSize), guest::content_tag(file, 1));
  EXPECT_EQ(k.load(p, a + kPageSize), 7u);
}

TEST_P(Semantics, SharedMappingsShareWritesAcrossFork) {
  auto& k = fx_.k();
  const Pid parent = start();
  const uint64_t a = k.mmap(parent, guest::MapRequest::anonymous(
                                        kPageSize, guest::prot::kRead | guest::prot::kWrite, true));
  ASSERT_TRUE(k.store(parent, a, 5));
  const Pid child = k.fork(parent);
  ASSERT_TRUE(k.store(child, a, 6));
  EXPECT_EQ(k.load(parent, a), 6u);
}

TEST_P(Semantics, ExecReplacesTheImage) {
  auto& k = fx_.k();
  const Pid parent = start();
  const uint64_t a = anon_area(parent, 1);
  ASSERT_TRUE(k.store(parent, a, 42));
  const Pid child = k.fork(parent);
  const uint64_t text = 0x400000 + kPageSize;  // first text page of the static program
  const uint32_t hello = k.page_cache().file("hello", 1);
  EXPECT_EQ(k.load(child, text), guest::content_tag(hello, 1));
  k.exec(child, guest::builtin_image("tiny-static"));
  const uint32_t tiny = k.page_cache().file("tiny", 1);
  EXPECT_EQ(k.load(child, text), guest::content_tag(tiny, 1));
  EXPECT_FALSE(k.load(child, a).has_value());  // the old mapping is gone
  EXPECT_EQ(k.load(parent, a), 42u);
}

TEST_P(Semantics, MunmapMakesAddressesFault) {
  auto& k = fx_.k();
  const Pid p = start();
  const uint64_t a = anon_area(p, 1024);  // 4 MiB: spans more than one L1 table
  for (uint64_t i = 0; i < 1024; i += 64) ASSERT_TRUE(k.store(p, a + i * kPageSize, i));
  const uint64_t tables = k.mm(p).pt_pages_below_pgd();
  k.munmap(p, a, 1024 * kPageSize);
  EXPECT_FALSE(k.load(p, a).has_value());
  EXPECT_FALSE(k.store(p, a + 512 * kPageSize, 1));
  EXPECT_LT(k.mm(p).pt_pages_below_pgd(), tables);  // whole-span L1 tables were freed
  EXPECT_EQ(k.pte_of(p, a).raw(), 0u);
}

TEST_P(Semantics, MprotectTakesWriteAwayAndBack) {
  auto& k = fx_.k();
  const Pid p = start();
  const uint64_t a = anon_area(p, 2);
  ASSERT_TRUE(k.store(p, a, 1));
  k.mprotect(p, a, 2 * kPageSize, guest::prot::kRead);
  EXPECT_FALSE(k.store(p, a, 2));
  EXPECT_EQ(k.load(p, a), 1u);
  k.mprotect(p, a, 2 * kPageSize, guest::prot::kRead | guest::prot::kWrite);
  EXPECT_TRUE(k.store(p, a, 3));
  EXPECT_EQ(k.load(p, a), 3u);
}

TEST_P(Semantics, BrkGrowsAndShrinksTheHeap) {
  auto& k = fx_.k();
  const Pid p = start("tiny-static");
  const uint64_t base = k.brk(p, 0);
  EXPECT_EQ(k.brk(p, base + 3 * kPageSize), base + 3 * kPageSize);
  EXPECT_TRUE(k.store(p, base + 2 * kPageSize, 9));
  k.brk(p, base + kPageSize);
  EXPECT_FALSE(k.load(p, base + 2 * kPageSize).has_value());
  EXPECT_TRUE(k.store(p, base, 1));
}

TEST_P(Semantics, ExitReturnsEveryFrame) {
  auto& k = fx_.k();
  const uint64_t free_at_boot = k.free_pages();
  const auto xen_state = fx_.frame_state();
  const Pid p = start("sh");
  const uint64_t a = anon_area(p, 600);
  for (uint64_t i = 0; i < 600; i += 3) ASSERT_TRUE(k.store(p, a + i * kPageSize, i));
  const Pid c = k.fork(p);
  ASSERT_TRUE(k.store(c, a, 1));
  const Pid g = k.fork(c);
  k.exec(g, guest::builtin_image("tiny-static"));
  k.run_startup(g, guest::builtin_image("tiny-static"));
  k.exit(g);
  k.exit(c);
  k.exit(p);
  k.quiesce();
  k.drop_caches();
  EXPECT_EQ(k.free_pages(), free_at_boot);
  EXPECT_EQ(fx_.frame_state(), xen_state);
  EXPECT_EQ(fx_.sys().audit(), std::vector<std::string>{});
}

TEST_P(Semantics, MremapMovesContentsAndMadviseDropsThem) {
  // The calls a replayed program leans on: a moved mapping keeps its pages' contents at the new
  // address (the PTEs are carried over, no fault), the old address faults, and MADV_DONTNEED
  // gives zero-filled pages back while the tables stay.
  auto& k = fx_.k();
  const Pid p = start();
  const uint64_t a = anon_area(p, 8);
  for (uint64_t i = 0; i < 8; ++i) ASSERT_TRUE(k.store(p, a + i * kPageSize, 700 + i));
  const uint64_t to = a - (64 << 20);
  const uint64_t pfn = k.pte_of(p, a + kPageSize).mfn().value;
  const auto moved =
      fx_.measure([&] { k.mremap_move(p, a, 8 * kPageSize, 8 * kPageSize, to, false); });
  EXPECT_EQ(k.pte_of(p, to + kPageSize).mfn().value, pfn);
  EXPECT_EQ(k.mm(p).find_vma(a), nullptr);
  const auto reads = fx_.measure([&] {
    for (uint64_t i = 0; i < 8; ++i) EXPECT_EQ(k.load(p, to + i * kPageSize), 700 + i);
  });
  EXPECT_EQ(reads[sim::Event::kGuestFault], 0u);
  EXPECT_EQ(moved[sim::Event::kGuestPtAllocL1], 1u);  // the destination's L1
  const uint64_t tables = k.mm(p).pt_pages_below_pgd();
  k.madvise_dontneed(p, to, 8 * kPageSize);
  EXPECT_EQ(k.mm(p).pt_pages_below_pgd(), tables);
  EXPECT_FALSE(k.pte_of(p, to).present());
  EXPECT_EQ(k.load(p, to), 0u);
  k.exit(p);
  EXPECT_EQ(fx_.sys().audit(), std::vector<std::string>{});
}

INSTANTIATE_TEST_SUITE_P(PvOps, Semantics, ::testing::Values(PvOpsKind::kXen, PvOpsKind::kNative),
                         [](const auto& param_info) {
                           return std::string(system::name_of(param_info.param));
                         });

}  // namespace
}  // namespace pib
