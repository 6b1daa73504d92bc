// SPDX-License-Identifier: MIT
// The model against the real Xen 4.17 + Linux 6.1 counts: every traced figure within tolerance
// over the randomised layouts, including those the traced machine's timing decides (preempted
// hypercalls, switches to the tracer), which run on the clock its own tick count gives.
#include <gtest/gtest.h>

#include "fidelity/fidelity.hpp"
#include "support/cli_call.hpp"

namespace pib {
namespace {

// One run of the whole comparison serves both checks (it is the suite's longest test). Not
// under the sanitizers: there the command test below runs the same comparison end to end.
#ifndef PIB_SANITIZED
TEST(Fidelity, MatchedFiguresStayMatchedFootprintsAgreeAndTheClockComesFromTicks) {
  const std::string dir =
      std::string(std::getenv("PIB_SOURCE_DIR")) + "/data/groundtruth/xen-4.17-linux-6.1";
  const auto results = fidelity::run(dir, 5);
  // 9 hypercall modes (fork_exit, heap64, mmap_touch, brk_cycle, mprotect_cycle,
  // munmap_partial, the last three also without randomisation); IOMMU groups: 3 with ASLR
  // off, 6 with it on.
  ASSERT_EQ(results.size(), 18u);
  std::size_t seen = 0;
  std::size_t timed = 0;
  for (const auto& m : results) {
    if (m.footprint) {
      EXPECT_EQ(m.vmpte_pages_model, m.vmpte_pages_real) << m.mode;
    }
    for (const auto& f : m.figures) {
      ++seen;
      EXPECT_TRUE(f.within) << m.mode << " " << f.name << ": real " << f.real << ", model "
                            << f.model_min << "-" << f.model_max;
    }
    if (m.clock_scale == 0) continue;  // the VT-d groups run without timers
    ++timed;
    // The emulator ran far slower than the profile's machine, and the operation took as many
    // ticks as traced (the vcpu_op figure is the clock's input, so it is marked as one).
    EXPECT_GT(m.clock_scale, 1.0) << m.mode;
    EXPECT_NEAR(m.traced_op_ms, m.ticks_per_op * 1e3 / fidelity::kTracedHz, 1e-9) << m.mode;
    bool saw_input = false;
    for (const auto& f : m.figures) {
      if (f.name == "vcpu_op (direct)") {
        saw_input = f.input;
        EXPECT_NEAR(f.model, f.real, 0.5) << m.mode;
      }
      if (f.name.rfind("multicall", 0) == 0) {
        EXPECT_FALSE(f.input) << m.mode << " " << f.name;  // a prediction
      }
    }
    EXPECT_TRUE(saw_input) << m.mode;
  }
  EXPECT_EQ(seen, 117u + 90u);  // hypercall figures, VT-d figures
  EXPECT_EQ(timed, 9u);
}
#endif

TEST(Fidelity, TheCommandPassesOnTheProjectsGroundTruth) {
  // What a user runs from a fresh clone: the project's copy of the ground truth, default
  // iterations; exit status 0 only when every figure is within tolerance.
#ifdef PIB_SANITIZED
  // Fewer measured operations for the sanitizers' sake; two were too few once ticks could land
  // inside a table's validation (PGT_partial): fork_exit's multicall entries then sampled 26-27
  // per operation against the real 28.64, where three or more give 23-31 and the
  // default 24.5-28.25.
  const test::CliResult c = test::call_cli({"fidelity", "--iterations", "3"});
#else
  const test::CliResult c = test::call_cli({"fidelity"});
#endif
  EXPECT_EQ(c.rc, 0) << c.out << c.err;
  EXPECT_NE(c.out.find("all figures within tolerance"), std::string::npos);
  EXPECT_NE(c.out.find("traced machine: "), std::string::npos);
  EXPECT_NE(c.out.find("(input)"), std::string::npos);
  EXPECT_EQ(c.out.find("OUT"), std::string::npos);
}

TEST(Fidelity, Tolerance) {
  EXPECT_TRUE(fidelity::within_tolerance(8, 9));
  EXPECT_FALSE(fidelity::within_tolerance(8, 9.5));
  EXPECT_TRUE(fidelity::within_tolerance(100, 105));
  EXPECT_FALSE(fidelity::within_tolerance(100, 106));
}

}  // namespace
}  // namespace pib
