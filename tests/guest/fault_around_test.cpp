// SPDX-License-Identifier: MIT
// Fault-around (do_fault_around + filemap_map_pages): a read fault on a file mapping maps the
// already-cached pages of its aligned 64 KiB window, clipped to the VMA, each with its own
// set_pte; it never reads pages in, and write faults and special mappings do not do it.
#include <gtest/gtest.h>

#include "guest/page_cache.hpp"
#include "support/guest_fixture.hpp"

namespace pib {
namespace {

using guest::Pid;
using sim::Event;
using system::PvOpsKind;
using test::GuestFixture;

class FaultAround : public ::testing::TestWithParam<PvOpsKind> {
 protected:
  FaultAround() : fx_(GetParam()) {}
  Pid start() {
    const auto img = guest::builtin_image("tiny-static");
    const Pid p = fx_.k().spawn(img);
    fx_.k().run_startup(p, img);
    return p;
  }
  // A read-only mapping of `pages` pages of `file` at a 64 KiB-aligned address plus `skew`.
  uint64_t map(Pid p, uint32_t file, uint64_t pages, uint64_t skew = 0) {
    guest::MapRequest r =
        guest::MapRequest::of_file(file, 0, pages * kPageSize, guest::prot::kRead);
    r.fixed_address = 0x10000000 + skew * kPageSize;
    return fx_.k().mmap(p, r);
  }
  // A file of `pages` pages, all brought into the page cache by another process reading them.
  uint32_t cached_file(const std::string& name, uint64_t pages) {
    auto& k = fx_.k();
    const uint32_t file = k.page_cache().file(name, pages);
    const Pid reader = start();
    const uint64_t at = map(reader, file, pages);
    for (uint64_t i = 0; i < pages; ++i) EXPECT_TRUE(k.load(reader, at + i * kPageSize));
    return file;
  }
  GuestFixture fx_;
};

TEST_P(FaultAround, ReadFaultMapsTheCachedPagesOfItsWindow) {
  auto& k = fx_.k();
  const uint32_t file = cached_file("lib.so", 48);
  const Pid p = start();
  const uint64_t a = map(p, file, 48);
  const auto d = fx_.measure([&] { ASSERT_TRUE(k.load(p, a + 20 * kPageSize).has_value()); });
  EXPECT_EQ(d[Event::kGuestFault], 1u);
  EXPECT_EQ(d[Event::kGuestFaultAroundPages], 15u);
  EXPECT_EQ(d[Event::kGuestSetPte], 16u);  // one each, outside lazy-MMU mode
  for (uint64_t i = 16; i < 32; ++i) EXPECT_TRUE(k.pte_of(p, a + i * kPageSize).present()) << i;
  EXPECT_EQ(k.pte_of(p, a + 15 * kPageSize).raw(), 0u);
  EXPECT_EQ(k.pte_of(p, a + 32 * kPageSize).raw(), 0u);
  // The rest of the window faults no more.
  const auto again = fx_.measure([&] { ASSERT_TRUE(k.load(p, a + 31 * kPageSize)); });
  EXPECT_EQ(again[Event::kGuestFault], 0u);
}

TEST_P(FaultAround, WindowIsClippedToTheMapping) {
  auto& k = fx_.k();
  const uint32_t file = cached_file("clip.so", 8);
  const Pid p = start();
  const uint64_t a = map(p, file, 8, 5);  // pages 5..12 of a 16-page window
  const auto d = fx_.measure([&] { ASSERT_TRUE(k.load(p, a).has_value()); });
  EXPECT_EQ(d[Event::kGuestFaultAroundPages], 7u);
  for (uint64_t i = 0; i < 8; ++i) EXPECT_TRUE(k.pte_of(p, a + i * kPageSize).present()) << i;
}

TEST_P(FaultAround, NothingUncachedIsReadIn) {
  auto& k = fx_.k();
  const uint32_t file = k.page_cache().file("cold.so", 16);
  const Pid p = start();
  const uint64_t a = map(p, file, 16);
  const uint64_t cached = k.page_cache().cached_pages();
  const auto d = fx_.measure([&] { ASSERT_TRUE(k.load(p, a + 3 * kPageSize).has_value()); });
  EXPECT_EQ(d[Event::kGuestFaultAroundPages], 0u);
  EXPECT_EQ(k.page_cache().cached_pages(), cached + 1);
  EXPECT_EQ(k.pte_of(p, a + 4 * kPageSize).raw(), 0u);
}

TEST_P(FaultAround, PrivateWriteFaultsCopyOnePageOnly) {
  auto& k = fx_.k();
  const uint32_t file = cached_file("data.so", 16);
  const Pid p = start();
  guest::MapRequest r =
      guest::MapRequest::of_file(file, 0, 16 * kPageSize, guest::prot::kRead | guest::prot::kWrite);
  r.fixed_address = 0x20000000;
  const uint64_t a = k.mmap(p, r);
  const auto d = fx_.measure([&] { ASSERT_TRUE(k.store(p, a + kPageSize, 1)); });
  EXPECT_EQ(d[Event::kGuestFaultAroundPages], 0u);
  EXPECT_EQ(k.pte_of(p, a).raw(), 0u);
}

INSTANTIATE_TEST_SUITE_P(PvOps, FaultAround, ::testing::Values(PvOpsKind::kXen, PvOpsKind::kNative),
                         [](const auto& param_info) {
                           return std::string(system::name_of(param_info.param));
                         });

}  // namespace
}  // namespace pib
