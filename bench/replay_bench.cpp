// SPDX-License-Identifier: MIT
// Replay speed: a captured trace of 1,001 processes (a shell loop forking /bin/true and a
// subshell 500 times, captured once here when the benchmark starts) replayed on a PV system
// under baseline, and on bare metal. The bound: under 10 s for 1,000 processes.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "capture/tracer.hpp"
#include "common/error.hpp"
#include "policies/policy_table.hpp"
#include "system/guest_system.hpp"
#include "trace/trace.hpp"
#include "workload/trace_replay.hpp"

namespace {

using namespace pib;

// Captured on first use; empty when this machine does not allow ptrace.
const trace::Trace* loop_trace() {
  static const std::optional<trace::Trace> t = []() -> std::optional<trace::Trace> {
    capture::CaptureOptions o;
    o.command = {"sh", "-c", "i=0; while [ $i -lt 500 ]; do /bin/true; (:); i=$((i+1)); done"};
    std::ostringstream out;
    try {
      capture::capture(o, out);
    } catch (const InputError&) {
      return std::nullopt;
    }
    return trace::parse(out.str(), "bench:fork-loop-500");
  }();
  return t ? &*t : nullptr;
}

void replay_under(benchmark::State& state, const char* policy) {
  const trace::Trace* t = loop_trace();
  if (t == nullptr) {
    state.SkipWithError("ptrace is not permitted here");
    return;
  }
  uint64_t checks = 0;
  for (auto _ : state) {
    system::GuestSystemConfig cfg;
    cfg.guest_pages = 512 * kPagesPerMiB;
    policies::find_policy(policy).configure(cfg);
    system::GuestSystem sys(cfg);
    const workload::ReplayReport r = workload::replay_trace(sys, *t);
    checks = r.checks - r.mismatch_count;
    benchmark::DoNotOptimize(checks);
  }
  state.counters["processes"] = 1001;
  state.counters["checks_equal"] = static_cast<double>(checks);
}

void BM_Replay1000ProcessesBaseline(benchmark::State& state) {
  replay_under(state, "baseline");
}
void BM_Replay1000ProcessesNative(benchmark::State& state) {
  replay_under(state, "native");
}
BENCHMARK(BM_Replay1000ProcessesBaseline)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_Replay1000ProcessesNative)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
