// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>

#include "system/guest_system.hpp"

namespace pib {
namespace {

using system::GuestSystem;
using system::GuestSystemConfig;
using system::PvOpsKind;

class Smoke : public ::testing::TestWithParam<PvOpsKind> {};

TEST_P(Smoke, ForkExit) {
  GuestSystemConfig cfg;
  cfg.pvops = GetParam();
  cfg.guest_pages = 8192;
  GuestSystem sys(cfg);
  auto& k = sys.kernel();
  const auto img = guest::builtin_image("lmbench-hello");
  const auto parent = k.spawn(img);
  k.run_startup(parent, img);
  const uint64_t free_before = k.free_pages();
  const auto child = k.fork(parent);
  k.exit(child);
  k.schedule(parent);
  EXPECT_EQ(k.free_pages(), free_before);
  EXPECT_EQ(sys.audit(), std::vector<std::string>{});
}

INSTANTIATE_TEST_SUITE_P(Both, Smoke, ::testing::Values(PvOpsKind::kXen, PvOpsKind::kNative));

}  // namespace
}  // namespace pib
