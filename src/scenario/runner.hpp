// SPDX-License-Identifier: MIT
// Runs a scenario under each of its policies on one cost profile: a fresh system per policy,
// the same workload, seed and iterations; per-operation counts become modeled latencies.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cost/cost_model.hpp"
#include "cost/uncertainty.hpp"
#include "scenario/scenario.hpp"

namespace pib::scenario {

struct PolicyResult {
  std::string policy;
  std::string operation;
  std::vector<cost::Counts> samples;  // per measured operation
  cost::Counts total{};
  std::vector<double> latency_ns;  // per operation, modeled: the busiest vCPU's clock
  std::vector<double> cpu_ns;      // per operation, modeled: all vCPUs together
  cost::LatencyStats latency;
  double mean_cpu_ns = 0;
  double host_ns_per_op = 0;       // simulator speed (wall clock; not deterministic)
  std::vector<std::string> audit;  // hypervisor invariant violations after the run
  // Per span kind over the measured operations: instances and the counts charged inside.
  std::array<uint64_t, sim::kSpanCount> span_instances{};
  std::array<cost::Counts, sim::kSpanCount> span_counts{};
  // Page-table page source: pages held per kind at the end of the run (empty without a cache).
  std::vector<std::pair<std::string, uint64_t>> ptcache_held;
  // The distinct per-operation clock patterns (counts per vCPU and device clock) with how many
  // measured operations had each: what recomputes the latency under other unit costs (the
  // busiest clock is not linear in the costs). Recording stops at kMaxClockPatterns; then
  // clock_patterns_complete is false and latencies under other costs are scaled instead.
  static constexpr std::size_t kMaxClockPatterns = 1024;
  std::map<std::vector<cost::Counts>, uint64_t> clock_patterns;
  bool clock_patterns_complete = true;

  double mean_count(sim::Event e) const;
  double mean_ns(sim::Event e, const cost::CostProfile& p) const;
  // Modeled ns per instance of a span kind (0 if none ran) and instances per operation.
  double span_ns(sim::Span s, const cost::CostProfile& p) const;
  double span_per_op(sim::Span s) const;
  // All page-table work of one operation: the per-table allocation and free spans and the
  // whole-tree pin and unpin spans (modeled ns).
  double pt_work_ns(const cost::CostProfile& p) const;
  // Per-table page-table allocation and free only (pt_alloc.*, pgd_alloc, pt_free.*, pgd_free).
  double pt_alloc_free_ns(const cost::CostProfile& p) const;

  // The same figures under any unit costs (a draw from the profile's ranges).
  double span_ns(sim::Span s, const cost::UnitCosts& c) const;
  double pt_work_ns(const cost::UnitCosts& c) const;
  double pt_alloc_free_ns(const cost::UnitCosts& c) const;
  double mean_latency_ns(const cost::UnitCosts& c) const;
};

struct RunOutput {
  Scenario scenario;
  cost::CostProfile profile;
  std::vector<PolicyResult> results;
};

// progress(policy index, iteration done, iterations total).
using Progress = std::function<void(std::size_t, uint64_t, uint64_t)>;

// Hooks into a run for front ends that show more than its results (a trace of hypercalls, the
// simulator's own memory). They watch; the counts are the same with or without them.
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  // Before policy `policy`'s system is built.
  virtual void before_system(std::size_t policy) { (void)policy; }
  // The system is built and the workload made, before its setup and warm-up.
  virtual void system_ready(std::size_t policy, system::GuestSystem& sys, workload::Workload& w) {
    (void)policy, (void)sys, (void)w;
  }
  // Around measured iteration `i` (0-based) of `n`.
  virtual void before_iteration(std::size_t policy, uint64_t i, uint64_t n,
                                system::GuestSystem& sys) {
    (void)policy, (void)i, (void)n, (void)sys;
  }
  virtual void after_iteration(std::size_t policy, uint64_t i, uint64_t n,
                               system::GuestSystem& sys) {
    (void)policy, (void)i, (void)n, (void)sys;
  }
  // After the last measured iteration, before the system is torn down.
  virtual void policy_done(std::size_t policy, system::GuestSystem& sys) {
    (void)policy, (void)sys;
  }
};

RunOutput run_scenario(const Scenario& scenario, const cost::CostProfile& profile,
                       const Progress& progress = {}, RunObserver* observer = nullptr);

}  // namespace pib::scenario
