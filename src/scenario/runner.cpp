// SPDX-License-Identifier: MIT
#include "scenario/runner.hpp"

#include <algorithm>
#include <chrono>

#include "policies/policy_table.hpp"

namespace pib::scenario {

double PolicyResult::mean_count(sim::Event e) const {
  if (samples.empty()) return 0;
  return static_cast<double>(total[static_cast<std::size_t>(e)]) /
         static_cast<double>(samples.size());
}

double PolicyResult::mean_ns(sim::Event e, const cost::CostProfile& p) const {
  return mean_count(e) * p.ns(e);
}

double PolicyResult::span_ns(sim::Span s, const cost::CostProfile& p) const {
  return span_ns(s, cost::unit_costs(p));
}

double PolicyResult::span_ns(sim::Span s, const cost::UnitCosts& c) const {
  const auto i = static_cast<std::size_t>(s);
  if (span_instances[i] == 0) return 0;
  return cost::modeled_ns(span_counts[i], c) / static_cast<double>(span_instances[i]);
}

double PolicyResult::span_per_op(sim::Span s) const {
  if (samples.empty()) return 0;
  return static_cast<double>(span_instances[static_cast<std::size_t>(s)]) /
         static_cast<double>(samples.size());
}

namespace {

bool is_whole_tree(sim::Span s) {
  return s == sim::Span::kPgdPin || s == sim::Span::kPgdUnpin;
}

}  // namespace

double PolicyResult::pt_work_ns(const cost::CostProfile& p) const {
  return pt_work_ns(cost::unit_costs(p));
}

double PolicyResult::pt_alloc_free_ns(const cost::CostProfile& p) const {
  return pt_alloc_free_ns(cost::unit_costs(p));
}

double PolicyResult::pt_work_ns(const cost::UnitCosts& c) const {
  double sum = 0;
  for (const auto& sp : sim::kSpanTable) sum += span_ns(sp.span, c) * span_per_op(sp.span);
  return sum;
}

double PolicyResult::pt_alloc_free_ns(const cost::UnitCosts& c) const {
  double sum = 0;
  for (const auto& sp : sim::kSpanTable) {
    if (!is_whole_tree(sp.span)) sum += span_ns(sp.span, c) * span_per_op(sp.span);
  }
  return sum;
}

double PolicyResult::mean_latency_ns(const cost::UnitCosts& c) const {
  if (samples.empty()) return 0;
  if (!clock_patterns_complete) {
    // Too many distinct patterns to keep: the busiest clock scaled as the CPU time is.
    double drawn = 0, base = 0;
    for (const auto& s : samples) drawn += cost::modeled_ns(s, c);
    for (const double v : cpu_ns) base += v;
    return base == 0 ? 0 : latency.mean * drawn / base;
  }
  double sum = 0;
  for (const auto& [pattern, n] : clock_patterns) {
    double busiest = 0;
    for (const auto& clock : pattern) busiest = std::max(busiest, cost::modeled_ns(clock, c));
    sum += busiest * static_cast<double>(n);
  }
  return sum / static_cast<double>(samples.size());
}

namespace {

// A policy's system: the scenario's configuration, the devices its workload needs, the clock
// on the run's profile when the guest has a tick, then what the policy changes.
system::GuestSystemConfig system_config(const Scenario& scenario, const std::string& policy,
                                        const cost::CostProfile& profile) {
  system::GuestSystemConfig cfg = scenario.system;
  if (cfg.hz != 0) cfg.clock = cost::unit_costs(profile);
  cfg.design_costs = cost::unit_costs(profile);
  const workload::WorkloadInfo info = workload::workload_info(scenario.workload.name);
  cfg.nic = info.nic;
  cfg.disk = info.disk;
  cfg.save_restore_room = info.save_restore;
  policies::apply_policy(policy, cfg);
  return cfg;
}

struct SpanMarks {
  std::array<uint64_t, sim::kSpanCount> instances{};
  std::array<cost::Counts, sim::kSpanCount> counts{};
};

SpanMarks span_marks(const sim::Ledger& ledger) {
  SpanMarks m;
  for (std::size_t s = 0; s < sim::kSpanCount; ++s) {
    m.instances[s] = ledger.span_instances(static_cast<sim::Span>(s));
    m.counts[s] = ledger.span_counts(static_cast<sim::Span>(s));
  }
  return m;
}

// One measured operation: its counts, and its latency as its busiest vCPU's clock (vCPUs run
// concurrently).
void measure_iteration(system::GuestSystem& sys, workload::Workload& w,
                       const cost::CostProfile& profile, PolicyResult& r) {
  const cost::Counts before = sys.ledger().counts();
  const auto before_cpu = sys.ledger().per_cpu();
  w.iteration(sys);
  const cost::Counts d = sys.ledger().since(before);
  for (std::size_t e = 0; e < d.size(); ++e) r.total[e] += d[e];
  r.samples.push_back(d);
  double busiest = 0;
  std::vector<cost::Counts> clocks;  // the clocks that ran (idle ones cannot be the busiest)
  for (auto& c : sys.ledger().since_per_cpu(before_cpu)) {
    busiest = std::max(busiest, cost::modeled_ns(c, profile));
    if (std::any_of(c.begin(), c.end(), [](uint64_t n) { return n != 0; })) {
      clocks.push_back(c);
    }
  }
  r.latency_ns.push_back(busiest);
  if (r.clock_patterns_complete) {
    ++r.clock_patterns[std::move(clocks)];
    if (r.clock_patterns.size() > PolicyResult::kMaxClockPatterns) {
      r.clock_patterns_complete = false;
      r.clock_patterns.clear();
    }
  }
  r.cpu_ns.push_back(cost::modeled_ns(d, profile));
}

void finish_result(system::GuestSystem& sys, const SpanMarks& start, PolicyResult& r) {
  const SpanMarks end = span_marks(sys.ledger());
  for (std::size_t s = 0; s < sim::kSpanCount; ++s) {
    r.span_instances[s] = end.instances[s] - start.instances[s];
    for (std::size_t e = 0; e < sim::kEventCount; ++e)
      r.span_counts[s][e] = end.counts[s][e] - start.counts[s][e];
  }
  r.latency = cost::latency_stats(r.latency_ns);
  r.mean_cpu_ns = cost::latency_stats(r.cpu_ns).mean;
  r.audit = sys.audit();
  r.ptcache_held = sys.pt_pages().held();
}

PolicyResult run_policy(const Scenario& scenario, std::size_t pi, const cost::CostProfile& profile,
                        const Progress& progress, RunObserver& observer) {
  const std::string& policy = scenario.policies[pi];
  const system::GuestSystemConfig cfg = system_config(scenario, policy, profile);
  observer.before_system(pi);
  system::GuestSystem sys(cfg);
  auto w = workload::make_workload(scenario.workload.name, scenario.workload.params);
  w->set_seed(cfg.seed);
  observer.system_ready(pi, sys, *w);
  w->setup(sys);
  for (uint64_t i = 0; i < scenario.warmup; ++i) w->iteration(sys);
  PolicyResult r;
  r.policy = policy;
  r.operation = w->operation();
  const SpanMarks start = span_marks(sys.ledger());
  const auto host_start = std::chrono::steady_clock::now();
  const uint64_t n = scenario.iterations;
  for (uint64_t i = 0; i < n; ++i) {
    observer.before_iteration(pi, i, n, sys);
    measure_iteration(sys, *w, profile, r);
    observer.after_iteration(pi, i, n, sys);
    if (progress) progress(pi, i + 1, n);
  }
  const auto host = std::chrono::steady_clock::now() - host_start;
  r.host_ns_per_op =
      static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(host).count()) /
      static_cast<double>(n);
  observer.policy_done(pi, sys);
  finish_result(sys, start, r);
  return r;
}

}  // namespace

RunOutput run_scenario(const Scenario& scenario, const cost::CostProfile& profile,
                       const Progress& progress, RunObserver* observer) {
  RunObserver none;
  RunOutput out{scenario, profile, {}};
  for (std::size_t pi = 0; pi < scenario.policies.size(); ++pi) {
    out.results.push_back(
        run_policy(scenario, pi, profile, progress, observer != nullptr ? *observer : none));
  }
  return out;
}

}  // namespace pib::scenario
