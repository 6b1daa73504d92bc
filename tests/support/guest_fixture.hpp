// SPDX-License-Identifier: MIT
// A booted guest system for tests: counts of one step, frame snapshots for closure checks.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "system/guest_system.hpp"

namespace pib::test {

struct Delta {
  std::array<uint64_t, sim::kEventCount> counts{};
  uint64_t operator[](sim::Event e) const { return counts[static_cast<std::size_t>(e)]; }
};

class GuestFixture {
 public:
  explicit GuestFixture(system::PvOpsKind kind, uint32_t vcpus = 1, uint64_t pages = 8192,
                        xen::XenGeneration gen = xen::XenGeneration::kModern);
  explicit GuestFixture(const system::GuestSystemConfig& config);
  system::GuestSystem& sys() { return sys_; }
  guest::Kernel& k() { return sys_.kernel(); }
  Delta measure(const std::function<void()>& step);
  // (count, type_count, pinned) of every frame Xen has: equal before and after a closed cycle.
  std::vector<uint64_t> frame_state() const;

 private:
  system::GuestSystem sys_;
};

system::GuestSystemConfig guest_config(system::PvOpsKind kind, uint32_t vcpus, uint64_t pages,
                                       xen::XenGeneration gen);

}  // namespace pib::test
