// SPDX-License-Identifier: MIT
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "report/report.hpp"

namespace pib::report {

void write_json(std::ostream& out, const scenario::RunOutput& run, const Options& options) {
  using nlohmann::ordered_json;
  const auto& s = run.scenario;
  ordered_json j;
  j["format"] = "pibooster-results/1";
  j["scenario"] = {{"name", s.name},
                   {"description", s.description},
                   {"origin", s.origin},
                   {"iterations", s.iterations},
                   {"warmup", s.warmup},
                   {"seed", s.system.seed},
                   {"memory_mib", s.memory_mib()},
                   {"vcpus", s.system.vcpus},
                   {"xen_generation", name_of(s.system.xen_generation)},
                   // A number in the JSON (its name is the major version).
                   {"linux_generation", std::stoi(std::string(name_of(s.system.linux_generation)))},
                   {"workload", s.workload.name},
                   {"params", s.workload.params.values()}};
  j["profile"] = {{"name", run.profile.name()}, {"origin", run.profile.origin()}};
  ordered_json results = ordered_json::array();
  for (const auto& r : run.results) {
    ordered_json pr;
    pr["policy"] = r.policy;
    pr["operation"] = r.operation;
    pr["operations_measured"] = r.samples.size();
    pr["latency"][r.operation] = {{"mean_ns", r.latency.mean}, {"median_ns", r.latency.median},
                                  {"p99_ns", r.latency.p99},   {"min_ns", r.latency.min},
                                  {"max_ns", r.latency.max},   {"cpu_mean_ns", r.mean_cpu_ns}};
    ordered_json counters = ordered_json::object();
    ordered_json breakdown = ordered_json::object();
    for (const auto& e : sim::kEventTable) {
      const uint64_t total = r.total[static_cast<std::size_t>(e.event)];
      if (total == 0) continue;
      counters[std::string(e.name)] = r.mean_count(e.event);
      if (e.cost == sim::Cost::kWork)
        breakdown[std::string(e.name)] = r.mean_ns(e.event, run.profile);
    }
    ordered_json spans = ordered_json::object();
    for (const auto& sp : sim::kSpanTable) {
      if (r.span_per_op(sp.span) == 0) continue;
      spans[std::string(sp.name)] = {{"per_op", r.span_per_op(sp.span)},
                                     {"mean_ns", r.span_ns(sp.span, run.profile)}};
    }
    pr["spans"] = spans;
    pr["page_table_work_ns"] = r.pt_work_ns(run.profile);
    const double io =
        r.mean_count(sim::Event::kDevNicBytes) + r.mean_count(sim::Event::kDevDiskBytes);
    if (io > 0 && r.latency.mean > 0) pr["io_throughput_mb_s"] = io / r.latency.mean * 1000.0;
    pr["counters"] = counters;
    pr["time_ns"] = breakdown;
    if (options.host_time) pr["host_ns_per_op"] = r.host_ns_per_op;
    pr["audit"] = r.audit;
    if (!r.ptcache_held.empty()) {
      ordered_json held = ordered_json::object();
      for (const auto& [level, n] : r.ptcache_held) held[level] = n;
      pr["ptcache_held_pages"] = held;
    }
    results.push_back(pr);
  }
  j["results"] = results;
  ordered_json cmp = ordered_json::array();
  for (std::size_t i = 1; i < run.results.size(); ++i) {
    const auto& base = run.results.front();
    const auto& r = run.results[i];
    cmp.push_back({{"policy", r.policy},
                   {"baseline", base.policy},
                   {"mean_latency_ratio",
                    base.latency.mean == 0 ? 0.0 : r.latency.mean / base.latency.mean}});
  }
  j["comparison"] = cmp;
  out << j.dump(2) << "\n";
}

void write_csv(std::ostream& out, const scenario::RunOutput& run) {
  // One row per (policy, counter): mean count and modeled time per operation.
  out << "scenario,policy,operation,counter,kind,mean_count_per_op,mean_ns_per_op\n";
  for (const auto& r : run.results) {
    out << run.scenario.name << "," << r.policy << "," << r.operation << ",latency.mean,latency,,"
        << r.latency.mean << "\n";
    for (const auto& e : sim::kEventTable) {
      if (r.total[static_cast<std::size_t>(e.event)] == 0) continue;
      out << run.scenario.name << "," << r.policy << "," << r.operation << "," << e.name << ","
          << (e.cost == sim::Cost::kWork ? "work" : "tally") << "," << r.mean_count(e.event) << ","
          << r.mean_ns(e.event, run.profile) << "\n";
    }
  }
}

}  // namespace pib::report
