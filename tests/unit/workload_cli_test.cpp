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

TEST(WorkloadCli, RunsBothPvOpsSideBySide) {
  const Cli c = call({"workload", "lat_proc.fork", "--iterations", "2"});
  EXPECT_EQ(c.rc, 0) << c.err;
  EXPECT_NE(c.out.find("xen"), std::string::npos);
  EXPECT_NE(c.out.find("native"), std::string::npos);
  EXPECT_NE(c.out.find("guest.pgd.pin"), std::string::npos);
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
                      "1000", "--clock-scale", "30", "--trace"});
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
      {{"workload", "lat_proc.fork", "--iterations", "x"}, "--iterations expects"},
      {{"workload", "lat_proc.fork", "--pvops", "kvm"}, "unknown pv-ops 'kvm'"},
      {{"workload", "lat_proc.fork", "--param", "colour=red"}, "no parameter 'colour'"},
      {{"workload", "lat_proc.fork", "--xen", "3.0"}, "unknown Xen generation '3.0'"},
      {{"workload", "lat_proc.fork", "--vcpus"}, "--vcpus needs a value"},
      {{"workload", "lat_proc.fork", "--frobnicate", "1"}, "unknown option '--frobnicate'"},
      {{"workload", "lat_proc.fork", "--memory-mib", "1"}, "--memory-mib must be"},
      {{"workload", "lat_proc.fork", "--randomize-va-space", "3"}, "must be 0, 1 or 2"},
      {{"workload", "lat_proc.fork", "--seed", "-1"}, "--seed expects"},
      {{"workload", "lat_proc.fork", "--hz", "0"}, "--hz must be 1..10000"},
      {{"workload", "lat_proc.fork", "--hz", "250", "--clock-scale", "-2"}, "positive number"},
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

TEST(WorkloadCli, HostMemoryIsReportedPerPvOps) {
  const Cli c = test::call_cli({"workload", "proc.population", "--iterations", "1", "--warmup", "0",
                                "--param", "children=4", "--host-memory"});
  EXPECT_EQ(c.rc, 0) << c.err;
  EXPECT_NE(c.out.find("host memory (xen)"), std::string::npos);
  EXPECT_NE(c.out.find("host memory (native)"), std::string::npos);
  EXPECT_NE(c.out.find("of guest memory touched"), std::string::npos);
}

}  // namespace
}  // namespace pib::app
