// SPDX-License-Identifier: MIT
// `pibooster workload`: runs, lists, traces, and names what is wrong with bad input.
#include <gtest/gtest.h>

#include <sstream>

#include "support/cli_call.hpp"

namespace pib::app {
namespace {

using Cli = test::CliResult;
Cli call(const std::vector<std::string>& args) {
  return test::call_cli(args);
}

TEST(WorkloadCli, RunsBaselineAndNativeSideBySide) {
  const Cli c = call({"workload", "lat_proc.fork", "--iterations", "2", "--verbose"});
  EXPECT_EQ(c.rc, 0) << c.err;
  EXPECT_NE(c.out.find("counters (mean per op)                baseline      native"),
            std::string::npos)
      << c.out;
  EXPECT_NE(c.out.find("guest.pgd.pin"), std::string::npos);
}

TEST(WorkloadCli, TheOldSpellingsArePolicyNames) {
  const Cli c = call({"workload", "lat_proc.fork", "--iterations", "1", "--pvops", "xen",
                      "--pibooster", "cache", "--verbose"});
  EXPECT_EQ(c.rc, 0) << c.err;
  EXPECT_NE(c.out.find("counters (mean per op)              pibooster-cache-only"),
            std::string::npos)
      << c.out;
  const Cli both = call({"workload", "lat_proc.fork", "--pvops", "xen", "--compare", "baseline"});
  EXPECT_EQ(both.rc, 2);
  EXPECT_NE(both.err.find("give one"), std::string::npos) << both.err;
}

TEST(WorkloadCli, TraceNamesThePoolCommands) {
  // Without a cache, every tree enters and leaves the pool within the operation.
  const Cli c = call({"workload", "lat_proc.fork", "--compare", "pibooster-validation-only",
                      "--iommu", "sync", "--iterations", "1", "--trace"});
  EXPECT_EQ(c.rc, 0) << c.err;
  EXPECT_NE(c.out.find("hypercall trace of the last fork+exit (pibooster-validation-only)"),
            std::string::npos);
  EXPECT_NE(c.out.find("PT_POOL_REMOVE(mfn "), std::string::npos);
  EXPECT_NE(c.out.find("PT_POOL_ADD(mfn "), std::string::npos) << c.out;
  EXPECT_EQ(c.out.find("cmd40"), std::string::npos);
}

TEST(WorkloadCli, SavesAndRestoresTheDomainUnderEachDesign) {
  const Cli c = call({"workload", "proc.save_restore", "--compare", "baseline,pibooster", "--iommu",
                      "sync", "--iterations", "2", "--trace"});
  EXPECT_EQ(c.rc, 0) << c.err;
  EXPECT_NE(c.out.find("save/restore with 9 processes"), std::string::npos) << c.out;
  // The guest's suspend call and, before it, xen_mm_pin_all's pins of the cached roots.
  EXPECT_NE(c.out.find("sched_op: shutdown, reason suspend"), std::string::npos) << c.out;
  const Cli native = call({"workload", "proc.save_restore", "--compare", "native"});
  EXPECT_EQ(native.rc, 2);
  EXPECT_NE(native.err.find("proc.save_restore needs Xen"), std::string::npos) << native.err;
}

// The scenario a workload run writes reproduces it under `pibooster run`.
TEST(WorkloadCli, WritesTheScenarioItRan) {
  const std::string dir = ::testing::TempDir() + "pibooster-workload-out";
  const Cli w = call({"workload", "lat_proc.exec", "--iterations", "2", "--vcpus", "2", "--xen",
                      "paper-era", "--format", "json", "--out", dir, "--no-plot"});
  ASSERT_EQ(w.rc, 0) << w.err;
  const Cli r = call({"run", dir + "/latest/scenario.toml", "--format", "json", "--out",
                      dir + "/again", "--no-plot"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto results = [](const std::string& json) {
    return json.substr(json.find("\"results\""));
  };
  EXPECT_EQ(results(w.out), results(r.out));
}

TEST(WorkloadCli, TraceShowsThePinMulticall) {
  const Cli c =
      call({"workload", "lat_proc.fork", "--pvops", "xen", "--iterations", "1", "--trace"});
  EXPECT_EQ(c.rc, 0) << c.err;
  EXPECT_NE(c.out.find("PIN_L4_TABLE"), std::string::npos);
  EXPECT_NE(c.out.find("UNPIN_TABLE"), std::string::npos);
}

TEST(WorkloadCli, ATickPreemptsLongHypercallsAndTheTraceSaysSo) {
  const Cli c = call({"workload", "lat_proc.fork", "--pvops", "xen", "--iterations", "20", "--hz",
                      "1000", "--clock-scale", "30", "--trace", "--verbose"});
  EXPECT_EQ(c.rc, 0) << c.err;
  EXPECT_NE(c.out.find("xen.hypercall.vcpu_op"), std::string::npos);
  EXPECT_NE(c.out.find("vcpu_op: set_singleshot_timer"), std::string::npos);
  const auto row = c.out.find("xen.hypercall.preempted");
  ASSERT_NE(row, std::string::npos);
  const std::string line = c.out.substr(row, c.out.find('\n', row) - row);
  EXPECT_GT(std::stod(line.substr(line.find_last_of(' ') + 1)), 0.0) << line;
}

TEST(WorkloadCli, ListsWorkloadsWithTheirParameters) {
  const Cli c = call({"workload", "--list"});
  EXPECT_EQ(c.rc, 0);
  EXPECT_NE(c.out.find("unixbench.shell8"), std::string::npos);
  EXPECT_NE(c.out.find("parent_stack_writes"), std::string::npos);
}

TEST(WorkloadCli, BadInputIsNamed) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"workload", "no.such"}, "unknown workload 'no.such'"},
      {{"workload", "lat_proc.fork", "--iterations", "x"},
       "--iterations: scenario.iterations must be an integer in 1..1000000"},
      {{"workload", "lat_proc.fork", "--pvops", "kvm"}, "unknown pv-ops 'kvm'"},
      {{"workload", "lat_proc.fork", "--param", "colour=red"}, "no parameter 'colour'"},
      {{"workload", "lat_proc.fork", "--xen", "3.0"}, "unknown Xen generation '3.0'"},
      {{"workload", "lat_proc.fork", "--vcpus"}, "--vcpus needs a value"},
      {{"workload", "lat_proc.fork", "--frobnicate", "1"}, "unknown option '--frobnicate'"},
      {{"workload", "lat_proc.fork", "--memory-mib", "1"},
       "--memory-mib: machine.memory_mib must be an integer in 16..65536"},
      {{"workload", "lat_proc.fork", "--randomize-va-space", "3"},
       "--randomize-va-space: guest.randomize_va_space must be an integer in 0..2"},
      {{"workload", "lat_proc.fork", "--seed", "-1"}, "--seed: scenario.seed must be an integer"},
      {{"workload", "lat_proc.fork", "--hz", "0"}, "--hz must be 1..10000"},
      {{"workload", "lat_proc.fork", "--hz", "250", "--clock-scale", "-2"},
       "--clock-scale: machine.clock_scale must be a number in"},
      {{"workload", "lat_proc.fork", "--pibooster", "on"}, "--pibooster: unknown mode 'on'"},
      {{"workload", "lat_proc.fork", "--iommu", "strict"}, "unknown IOMMU mode 'strict'"},
      {{"workload", "lat_proc.fork", "--compare", "kvm"}, "unknown policy 'kvm'"},
      {{"workload", "lat_proc.fork", "--clock-scale", "3"}, "need --hz"},
      {{"workload", "lat_proc.fork", "--hz", "250", "--clock-profile", "nope"}, "nope"},
  };
  for (const auto& [args, message] : cases) {
    const Cli c = call(args);
    EXPECT_EQ(c.rc, 2) << args.back();
    EXPECT_NE(c.err.find(message), std::string::npos) << c.err;
  }
}

TEST(WorkloadCli, TooLittleMemoryIsAnErrorNotACrash) {
  const Cli c = call({"workload", "lat_proc.fork", "--memory-mib", "16", "--param",
                      "parent_heap_pages=5000", "--iterations", "1"});
  EXPECT_EQ(c.rc, 2);
  EXPECT_NE(c.err.find("out of memory"), std::string::npos) << c.err;
}

}  // namespace
}  // namespace pib::app

namespace pib::app {
namespace {

TEST(WorkloadCli, HostMemoryIsReportedPerPolicy) {
  const Cli c = test::call_cli({"workload", "proc.population", "--iterations", "1", "--warmup", "0",
                                "--param", "children=4", "--host-memory"});
  EXPECT_EQ(c.rc, 0) << c.err;
  EXPECT_NE(c.out.find("host memory (baseline)"), std::string::npos);
  EXPECT_NE(c.out.find("host memory (native)"), std::string::npos);
  EXPECT_NE(c.out.find("of guest memory touched"), std::string::npos);
}

}  // namespace
}  // namespace pib::app
