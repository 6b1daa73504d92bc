// SPDX-License-Identifier: MIT
#include "scenario/runner.hpp"

#include <algorithm>
#include <chrono>

#include "scenario/policy.hpp"

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
  const auto i = static_cast<std::size_t>(s);
  if (span_instances[i] == 0) return 0;
  return cost::modeled_ns(span_counts[i], p) / static_cast<double>(span_instances[i]);
}

double PolicyResult::span_per_op(sim::Span s) const {
  if (samples.empty()) return 0;
  return static_cast<double>(span_instances[static_cast<std::size_t>(s)]) /
         static_cast<double>(samples.size());
}

double PolicyResult::pt_work_ns(const cost::CostProfile& p) const {
  double sum = 0;
  for (const auto& sp : sim::kSpanTable) sum += span_ns(sp.span, p) * span_per_op(sp.span);
  return sum;
}

RunOutput run_scenario(const Scenario& scenario, const cost::CostProfile& profile,
                       const Progress& progress) {
  RunOutput out{scenario, profile, {}};
  for (std::size_t pi = 0; pi < scenario.policies.size(); ++pi) {
    system::GuestSystemConfig cfg = scenario.system;
    if (cfg.hz != 0) cfg.clock = cost::unit_costs(profile);  // a tick runs on the run's profile
    const workload::WorkloadInfo info = workload::workload_info(scenario.workload.name);
    cfg.nic = info.nic;
    cfg.disk = info.disk;
    apply_policy(scenario.policies[pi], cfg);
    system::GuestSystem sys(cfg);
    auto w = workload::make_workload(scenario.workload.name, scenario.workload.params);
    w->set_seed(cfg.seed);
    w->setup(sys);
    for (uint64_t i = 0; i < scenario.warmup; ++i) w->iteration(sys);
    PolicyResult r;
    r.policy = scenario.policies[pi];
    r.operation = w->operation();
    std::array<uint64_t, sim::kSpanCount> inst0{};
    std::array<cost::Counts, sim::kSpanCount> counts0{};
    for (std::size_t s = 0; s < sim::kSpanCount; ++s) {
      inst0[s] = sys.ledger().span_instances(static_cast<sim::Span>(s));
      counts0[s] = sys.ledger().span_counts(static_cast<sim::Span>(s));
    }
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < scenario.iterations; ++i) {
      const cost::Counts before = sys.ledger().counts();
      const auto before_cpu = sys.ledger().per_cpu();
      w->iteration(sys);
      const cost::Counts d = sys.ledger().since(before);
      for (std::size_t e = 0; e < d.size(); ++e) r.total[e] += d[e];
      r.samples.push_back(d);
      // vCPUs run concurrently: the operation takes as long as its busiest vCPU's clock.
      double busiest = 0;
      for (const auto& c : sys.ledger().since_per_cpu(before_cpu)) {
        busiest = std::max(busiest, cost::modeled_ns(c, profile));
      }
      r.latency_ns.push_back(busiest);
      r.cpu_ns.push_back(cost::modeled_ns(d, profile));
      if (progress) progress(pi, i + 1, scenario.iterations);
    }
    const auto host = std::chrono::steady_clock::now() - start;
    r.host_ns_per_op =
        static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(host).count()) /
        static_cast<double>(scenario.iterations);
    for (std::size_t s = 0; s < sim::kSpanCount; ++s) {
      r.span_instances[s] = sys.ledger().span_instances(static_cast<sim::Span>(s)) - inst0[s];
      const auto& now = sys.ledger().span_counts(static_cast<sim::Span>(s));
      for (std::size_t e = 0; e < sim::kEventCount; ++e)
        r.span_counts[s][e] = now[e] - counts0[s][e];
    }
    r.latency = cost::latency_stats(r.latency_ns);
    r.mean_cpu_ns = cost::latency_stats(r.cpu_ns).mean;
    r.audit = sys.audit();
    if (const guest::PageTableCache* cache = sys.ptcache()) {
      for (std::size_t l = 0; l < guest::kCacheLevels; ++l) {
        const auto level = static_cast<guest::CacheLevel>(l);
        r.ptcache_held.emplace_back(guest::cache_level_name(level), cache->held(level));
      }
    }
    out.results.push_back(std::move(r));
  }
  return out;
}

}  // namespace pib::scenario
