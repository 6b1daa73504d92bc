// SPDX-License-Identifier: MIT
// The machine-readable outputs. Each records how the run was made — the tool version, the
// configuration hash, the whole resolved scenario and profile with every override — beside
// the results, so any number can be traced to what produced it.
#include <toml++/toml.h>

#include <iomanip>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <string>

#include "report/report.hpp"
#include "report/savings.hpp"

namespace pib::report {

namespace {

using nlohmann::ordered_json;

// Without comment lines: what the configuration is, not where it was read from.
std::string without_comments(const std::string& text) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) {
    if (!line.starts_with("#")) out += line + "\n";
  }
  return out;
}

ordered_json to_json(const toml::node& n) {
  if (const auto* t = n.as_table()) {
    ordered_json o = ordered_json::object();
    for (const auto& [k, v] : *t) o[std::string(k.str())] = to_json(v);
    return o;
  }
  if (const auto* a = n.as_array()) {
    ordered_json o = ordered_json::array();
    for (const auto& v : *a) o.push_back(to_json(v));
    return o;
  }
  if (const auto* s = n.as_string()) return s->get();
  if (const auto* i = n.as_integer()) return i->get();
  if (const auto* f = n.as_floating_point()) return f->get();
  if (const auto* b = n.as_boolean()) return b->get();
  return nullptr;
}

// Every section of the resolved scenario, as its TOML has it.
ordered_json resolved_scenario(const scenario::RunOutput& run) {
  const std::string text = run.scenario.to_toml();
  return to_json(toml::parse(std::string_view(text), std::string_view("resolved scenario")));
}

ordered_json profile_json(const cost::CostProfile& p) {
  ordered_json overrides = ordered_json::array();
  for (const auto& o : p.overrides()) {
    overrides.push_back(
        {{"name", sim::event_name(o.event)}, {"value_ns", o.ns}, {"original_ns", o.original_ns}});
  }
  ordered_json costs = ordered_json::object();
  for (const auto& e : sim::kEventTable) {
    if (e.cost != sim::Cost::kWork) continue;
    const cost::UnitCost& u = p.unit(e.event);
    costs[std::string(e.name)] = {{"ns", u.ns},
                                  {"low", u.low},
                                  {"high", u.high},
                                  {"dist", cost::name_of(u.dist)},
                                  {"mark", std::string(1, u.mark)}};
  }
  return {{"name", p.name()},     {"label", p.label()},     {"description", p.description()},
          {"origin", p.origin()}, {"overrides", overrides}, {"costs", costs}};
}

double invalidations(const scenario::PolicyResult& r) {
  return r.mean_count(sim::Event::kHwIotlbInvPage) + r.mean_count(sim::Event::kHwIotlbInvDomain) +
         r.mean_count(sim::Event::kHwIotlbInvGlobal);
}

ordered_json change_json(const Change& c) {
  return {{"nominal_pct", c.nominal}, {"p05_pct", c.p05}, {"p95_pct", c.p95}};
}

ordered_json uncertainty_json(const Uncertainty& u) {
  ordered_json j;
  j["draws"] = u.draws;
  j["seed"] = u.seed;
  j["interval"] = "5th-95th percentile over the draws";
  j["counts_depend_on_costs"] = u.clock;
  j["reference"] = u.reference;
  ordered_json changes = ordered_json::array();
  for (const auto& pc : u.changes) {
    ordered_json c;
    c["policy"] = pc.policy;
    for (std::size_t f = 0; f < kFigureCount; ++f) {
      if (pc.figures[f]) c[figure_key(static_cast<Figure>(f))] = change_json(*pc.figures[f]);
    }
    changes.push_back(c);
  }
  j["changes"] = changes;
  if (u.headline) {
    j["headline"] = {{"policy", u.changes[*u.headline].policy},
                     {"figure", figure_key(u.headline_figure)}};
  }
  ordered_json tornado = ordered_json::array();
  for (const auto& t : u.tornado) {
    tornado.push_back({{"cost", sim::event_name(t.event)},
                       {"low_ns", t.low_ns},
                       {"high_ns", t.high_ns},
                       {"at_low_pct", t.at_low},
                       {"at_high_pct", t.at_high}});
  }
  j["tornado"] = tornado;
  return j;
}

void flatten(const ordered_json& j, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>& rows) {
  for (const auto& [k, v] : j.items()) {
    const std::string key = prefix + k;
    if (v.is_object()) {
      flatten(v, key + ".", rows);
    } else if (v.is_array()) {
      std::string list;
      for (const auto& x : v)
        list += (list.empty() ? "" : ";") + (x.is_string() ? x.get<std::string>() : x.dump());
      rows.emplace_back(key, list);
    } else {
      rows.emplace_back(key, v.is_string() ? v.get<std::string>() : v.dump());
    }
  }
}

std::string num(double v) {
  std::ostringstream o;
  o << std::setprecision(10) << v;
  return o.str();
}

}  // namespace

std::string config_hash(const scenario::RunOutput& run) {
  return config_hash(run.scenario, run.profile);
}

std::string config_hash(const scenario::Scenario& scenario, const cost::CostProfile& profile) {
  const std::string text =
      without_comments(scenario.to_toml()) + without_comments(profile.to_toml());
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, 64 bits
  for (const unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string(buf, 10);
}

std::vector<std::pair<std::string, std::string>> config_rows(const scenario::RunOutput& run,
                                                             const Options& options) {
  std::vector<std::pair<std::string, std::string>> rows;
  rows.emplace_back("tool_version", options.tool_version);
  rows.emplace_back("config_hash", config_hash(run));
  // Every scenario key, flattened: "machine.iommu", "workload.params.churn", "policies"...
  flatten(resolved_scenario(run), "", rows);
  rows.emplace_back("profile.name", run.profile.name());
  rows.emplace_back("profile.label", run.profile.label());
  for (const auto& e : sim::kEventTable) {
    if (e.cost != sim::Cost::kWork) continue;
    const cost::UnitCost& u = run.profile.unit(e.event);
    const std::string k = "cost." + std::string(e.name);
    rows.emplace_back(k + ".ns", num(u.ns));
    rows.emplace_back(k + ".low", num(u.low));
    rows.emplace_back(k + ".high", num(u.high));
    rows.emplace_back(k + ".dist", std::string(cost::name_of(u.dist)));
  }
  for (const auto& o : run.profile.overrides()) {
    rows.emplace_back("override." + std::string(sim::event_name(o.event)),
                      num(o.ns) + " (was " + num(o.original_ns) + ")");
  }
  return rows;
}

void write_config_csv(std::ostream& out, const scenario::RunOutput& run, const Options& options) {
  out << "key,value\n";
  for (const auto& [k, v] : config_rows(run, options)) {
    std::string q = v;
    if (q.find_first_of(",\"\n") != std::string::npos) {
      std::string e = "\"";
      for (const char c : q) e += c == '"' ? std::string("\"\"") : std::string(1, c);
      q = e + "\"";
    }
    out << k << "," << q << "\n";
  }
}

void write_json(std::ostream& out, const scenario::RunOutput& run, const Options& options) {
  const auto& s = run.scenario;
  ordered_json j;
  j["format"] = "pibooster-results/2";
  j["tool_version"] = options.tool_version;
  j["config_hash"] = config_hash(run);
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
                   {"params", s.workload.params.values()},
                   {"resolved", resolved_scenario(run)}};
  j["profile"] = profile_json(run.profile);
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
    pr["page_table_alloc_free_ns"] = r.pt_alloc_free_ns(run.profile);
    pr["iotlb_invalidations_per_op"] = invalidations(r);
    ordered_json parts = ordered_json::object();
    const auto by_part = time_by_part(r, run.profile);
    for (std::size_t i = 0; i < kPartCount; ++i) parts[std::string(kPartKeys[i])] = by_part[i];
    pr["time_by_part_ns"] = parts;
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
  j["uncertainty"] =
      uncertainty_json(options.uncertainty != nullptr ? *options.uncertainty : analyse(run));
  out << j.dump(2) << "\n";
}

void write_csv(std::ostream& out, const scenario::RunOutput& run, const Options& options) {
  // One row per (policy, counter): mean count and modeled time per operation; the page-table
  // figures as rows of kind "figure". config_hash joins them to config.csv.
  const std::string hash = config_hash(run);
  out << "config_hash,tool_version,scenario,policy,operation,counter,kind,mean_count_per_op,"
         "mean_ns_per_op\n";
  for (const auto& r : run.results) {
    const std::string head = hash + "," + options.tool_version + "," + run.scenario.name + "," +
                             r.policy + "," + r.operation + ",";
    out << head << "latency.mean,latency,," << r.latency.mean << "\n";
    out << head << "page_table.alloc_free,figure,," << r.pt_alloc_free_ns(run.profile) << "\n";
    out << head << "page_table.all,figure,," << r.pt_work_ns(run.profile) << "\n";
    for (const auto& e : sim::kEventTable) {
      if (r.total[static_cast<std::size_t>(e.event)] == 0) continue;
      out << head << e.name << "," << (e.cost == sim::Cost::kWork ? "work" : "tally") << ","
          << r.mean_count(e.event) << "," << r.mean_ns(e.event, run.profile) << "\n";
    }
  }
}

}  // namespace pib::report
