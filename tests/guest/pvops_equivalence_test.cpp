// SPDX-License-Identifier: MIT
// The same program run under the native and the Xen pv-ops leaves every process with the same
// memory contents: the pv-ops change how page tables are written, never what processes see.
#include <gtest/gtest.h>

#include <map>

#include "support/guest_fixture.hpp"

namespace pib {
namespace {

using guest::Pid;

// A fixed program of system calls and accesses; returns every process's view of its memory
// (first word of every mapped page, plus one word inside).
std::map<std::pair<Pid, uint64_t>, std::optional<uint64_t>> run_program(system::PvOpsKind kind) {
  test::GuestFixture fx(kind, 2);
  auto& k = fx.k();
  const auto sh = guest::builtin_image("sh");
  const Pid a = k.spawn(sh, 0);
  k.run_startup(a, sh);
  const uint64_t area = k.mmap(a, guest::MapRequest::anonymous(300 * kPageSize));
  for (uint64_t i = 0; i < 300; i += 7) k.store(a, area + i * kPageSize + 8, 1000 + i);
  const Pid b = k.fork(a);
  k.migrate(b, 1);
  for (uint64_t i = 0; i < 300; i += 11) k.store(b, area + i * kPageSize + 8, 2000 + i);
  k.munmap(a, area + 100 * kPageSize, 50 * kPageSize);
  k.mprotect(b, area, 10 * kPageSize, guest::prot::kRead);
  const Pid c = k.fork(b);
  k.exec(c, guest::builtin_image("lmbench-hello"));
  k.run_startup(c, guest::builtin_image("lmbench-hello"));
  k.brk(c, k.brk(c, 0) + 5 * kPageSize);
  k.store(c, k.brk(c, 0) - kPageSize, 77);
  std::map<std::pair<Pid, uint64_t>, std::optional<uint64_t>> view;
  for (const Pid p : k.live_pids()) {
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const auto& [start, vma] : k.mm(p).vmas) ranges.emplace_back(vma.start, vma.end);
    for (const auto& [s, e] : ranges) {
      for (uint64_t va = s; va < e; va += kPageSize) {
        view[{p, va}] = k.load(p, va);
        view[{p, va + 8}] = k.load(p, va + 8);
      }
    }
  }
  EXPECT_EQ(fx.sys().audit(), std::vector<std::string>{});
  return view;
}

TEST(PvOpsEquivalence, NativeAndXenProcessesSeeTheSameMemory) {
  const auto xen = run_program(system::PvOpsKind::kXen);
  const auto native = run_program(system::PvOpsKind::kNative);
  ASSERT_FALSE(xen.empty());
  EXPECT_EQ(xen.size(), native.size());
  EXPECT_TRUE(xen == native);
}

}  // namespace
}  // namespace pib
