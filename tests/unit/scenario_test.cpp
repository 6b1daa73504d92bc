// SPDX-License-Identifier: MIT
// Scenarios: built-ins parse, malformed files are refused with line numbers, the resolved dump
// loads again; runs are deterministic and their time closes over the counts.
#include <gtest/gtest.h>

#include <sstream>

#include "common/error.hpp"
#include "cost/cost_model.hpp"
#include "report/report.hpp"
#include "scenario/runner.hpp"
#include "support/scenario_error.hpp"

namespace pib::scenario {
namespace {

std::string error_of(const std::string& text) {
  return test::scenario_error(text);
}

const std::string kMinimal = "[scenario]\nname = \"t\"\n[workload]\nname = \"lat_proc.fork\"\n";

TEST(Scenario, BuiltinsParse) {
  ASSERT_GE(builtin_scenarios().size(), 7u);
  for (const auto& b : builtin_scenarios()) {
    EXPECT_NO_THROW(Scenario::parse(b.text, b.name)) << b.name;
  }
}

TEST(Scenario, MinimalFileTakesDefaults) {
  const Scenario s = Scenario::parse(kMinimal, "s.toml");
  EXPECT_EQ(s.workload.name, "lat_proc.fork");
  EXPECT_EQ(s.policies, (std::vector<std::string>{"baseline", "native"}));
  EXPECT_EQ(s.system.vcpus, 1u);
}

TEST(Scenario, MalformedFilesNameWhatAndWhere) {
  EXPECT_NE(error_of(kMinimal + "[machine]\nvcpu = 2\n").find("s.toml:6: unknown key machine.vcpu"),
            std::string::npos)
      << error_of(kMinimal + "[machine]\nvcpu = 2\n");
  EXPECT_NE(error_of(kMinimal + "[machine]\nvcpus = 0\n").find("vcpus must be an integer in 1..64"),
            std::string::npos);
  EXPECT_NE(error_of("[scenario]\nname = \"t\"\n[workload]\nname = \"nope\"\n")
                .find("unknown workload 'nope'"),
            std::string::npos);
  EXPECT_NE(error_of(kMinimal + "[workload.params]\ncolour = 1\n").find("no parameter 'colour'"),
            std::string::npos);
  EXPECT_NE(error_of("policies = [\"kvm\"]\n" + kMinimal).find("unknown policy 'kvm'"),
            std::string::npos);
  EXPECT_NE(error_of(kMinimal + "[xen]\ngeneration = \"3.4\"\n").find("unknown Xen generation"),
            std::string::npos);
  EXPECT_NE(error_of("[scenario]\nname = \n").find("s.toml:2"), std::string::npos);
  EXPECT_NE(error_of(kMinimal + "[guest]\nrandomize_va_space = 3\n").find("randomize_va_space"),
            std::string::npos);
  EXPECT_NE(error_of(kMinimal + "[guest]\nhz = 20000\n").find("hz must be an integer in 0..10000"),
            std::string::npos)
      << error_of(kMinimal + "[guest]\nhz = 20000\n");
  EXPECT_NE(error_of("[workload]\nname = \"lat_proc.fork\"\n").find("missing [scenario]"),
            std::string::npos);
}

TEST(Scenario, ResolvedDumpLoadsAgain) {
  Scenario s = find_scenario("fork-heap64");
  const Scenario t = Scenario::parse(s.to_toml(), "resolved");
  EXPECT_EQ(t.to_toml().substr(t.to_toml().find('\n')), s.to_toml().substr(s.to_toml().find('\n')));
  EXPECT_EQ(t.workload.params.values(), s.workload.params.values());
}

RunOutput small_run(const std::string& name) {
  Scenario s = find_scenario(name);
  s.iterations = 4;
  s.warmup = 1;
  return run_scenario(s, cost::find_profile("paper-era-server"));
}

TEST(ScenarioRun, ATickRunsOnTheScenariosProfileAndKeepsRunsDeterministic) {
  Scenario s = Scenario::parse(kMinimal + "[guest]\nhz = 1000\n", "s.toml");
  EXPECT_EQ(Scenario::parse(s.to_toml(), "resolved").system.hz, 1000u);
  s.iterations = 30;
  s.warmup = 1;
  s.policies = {"baseline"};
  const auto profile = cost::find_profile("paper-era-server");
  const RunOutput first = run_scenario(s, profile);
  std::ostringstream a, b;
  report::write_json(a, first, report::Options{});
  report::write_json(b, run_scenario(s, profile), report::Options{});
  EXPECT_EQ(a.str(), b.str());
  // 30 fork+exits of ~0.2 ms each span at least one 1 ms tick.
  EXPECT_GT(first.results.at(0).total[static_cast<std::size_t>(sim::Event::kXenHcVcpuOp)], 0u);
}

TEST(ScenarioRun, IsDeterministic) {
  std::ostringstream a, b;
  report::write_json(a, small_run("lmbench-exec"), report::Options{});
  report::write_json(b, small_run("lmbench-exec"), report::Options{});
  EXPECT_EQ(a.str(), b.str());
}

TEST(ScenarioRun, TimeClosesOverTheCounts) {
  const RunOutput run = small_run("unixbench-shell8");
  for (const auto& r : run.results) {
    EXPECT_TRUE(r.audit.empty());
    double sum_of_ops = 0;
    for (std::size_t i = 0; i < r.samples.size(); ++i) {
      double rows = 0;
      for (const auto& b : cost::breakdown(r.samples[i], run.profile)) rows += b.ns;
      EXPECT_DOUBLE_EQ(rows, r.cpu_ns[i]);      // each operation = the sum of its breakdown
      EXPECT_LE(r.latency_ns[i], r.cpu_ns[i]);  // the busiest vCPU's share of it
      sum_of_ops += r.cpu_ns[i];
    }
    EXPECT_NEAR(sum_of_ops, cost::modeled_ns(r.total, run.profile), 1e-6 * sum_of_ops);
    EXPECT_NEAR(r.mean_cpu_ns * static_cast<double>(r.samples.size()), sum_of_ops,
                1e-6 * sum_of_ops);
  }
}

TEST(ScenarioRun, ConcurrentCopiesOverlapOnTwoVcpus) {
  const RunOutput two = small_run("unixbench-shell8");  // 8 copies on 2 vCPUs
  for (const auto& r : two.results) {
    EXPECT_LT(r.latency.mean, 0.75 * r.mean_cpu_ns) << r.policy;
    EXPECT_GT(r.latency.mean, 0.4 * r.mean_cpu_ns) << r.policy;
  }
  const RunOutput one = small_run("unixbench-shell1");
  for (const auto& r : one.results) EXPECT_DOUBLE_EQ(r.latency.mean, r.mean_cpu_ns);
}

TEST(ScenarioRun, SpansCountEveryTableOperationOnce) {
  const RunOutput run = small_run("lmbench-exec");
  for (const auto& r : run.results) {
    EXPECT_EQ(r.span_per_op(sim::Span::kPtAllocL1), r.mean_count(sim::Event::kGuestPtAllocL1));
    EXPECT_EQ(r.span_per_op(sim::Span::kPtFreeL2), r.mean_count(sim::Event::kGuestPtFreeL2));
    EXPECT_EQ(r.span_per_op(sim::Span::kPgdAlloc), r.mean_count(sim::Event::kGuestPgdAlloc));
    EXPECT_EQ(r.span_per_op(sim::Span::kPgdPin), 2.0);  // the child's tree at fork, the new at exec
    // Spans are parts of operations: their time never exceeds the operations'.
    double spans = 0;
    for (const auto& sp : sim::kSpanTable)
      spans += r.span_ns(sp.span, run.profile) * r.span_per_op(sp.span);
    EXPECT_LT(spans, r.mean_cpu_ns);
  }
  // Under Xen, pinning a tree costs hypercalls; natively it is free.
  EXPECT_GT(run.results[0].span_ns(sim::Span::kPgdPin, run.profile), 0.0);
  EXPECT_EQ(run.results[1].span_ns(sim::Span::kPgdPin, run.profile), 0.0);
}

TEST(ScenarioRun, TalliesCarryNoTime) {
  const RunOutput run = small_run("lmbench-fork");
  cost::Counts only_tallies{};
  for (const auto& e : sim::kEventTable) {
    if (e.cost == sim::Cost::kTally) only_tallies[static_cast<std::size_t>(e.event)] = 1000;
  }
  EXPECT_EQ(cost::modeled_ns(only_tallies, run.profile), 0.0);
}

}  // namespace
}  // namespace pib::scenario
