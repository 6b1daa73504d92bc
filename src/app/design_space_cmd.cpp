// SPDX-License-Identifier: MIT
#include "app/design_space_cmd.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

#include "common/error.hpp"
#include "cost/cost_profile.hpp"
#include "policies/policy_table.hpp"
#include "report/uncertainty.hpp"
#include "scenario/runner.hpp"
#include "scenario/scenario.hpp"

namespace pib::app {

const char* const kDesignSpaceHelp =
    R"(usage: pibooster design-space [--profile P] [--policies A,B,...]
                              [--scenarios S,T,...] [--out FILE]

Runs every scenario of the set under every policy (baseline first: the reference) on one
profile and seed, and prints one table per scenario: latency, per-table page-table
(de)allocation, all page-table work with pin/unpin and, where the workload moves data, I/O
throughput, each as a change against baseline with its 90 % interval over the cost ranges;
IOTLB invalidations per operation; page-table pages the design holds at the end.
--out also writes the table to FILE (Markdown). Defaults: profile paper-era-server; the
policies baseline, linux-quicklist, pibooster, xenolinux-quicklist, pibooster-plus, native;
the scenarios pibooster-fork, pibooster-exec, pibooster-shell, pibooster-spawn,
pibooster-execl, pibooster-shell8, fork-heap64, pibooster-fluctuating, pibooster-pressure,
net-rx-churn, disk-rand-churn.
)";

namespace {

const char* const kDefaultPolicies =
    "baseline,linux-quicklist,pibooster,xenolinux-quicklist,pibooster-plus,native";
const char* const kDefaultScenarios =
    "pibooster-fork,pibooster-exec,pibooster-shell,pibooster-spawn,pibooster-execl,"
    "pibooster-shell8,fork-heap64,pibooster-fluctuating,pibooster-pressure,net-rx-churn,"
    "disk-rand-churn";

std::vector<std::string> split(const std::string& list, const char* what) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    if (item.empty()) throw InputError(std::string("design-space: empty name in ") + what);
    out.push_back(item);
  }
  if (out.empty()) throw InputError(std::string("design-space: no ") + what);
  return out;
}

std::string cell(const std::optional<report::Change>& c) {
  if (!c) return "";
  const double lo = std::min(c->p05, c->p95), hi = std::max(c->p05, c->p95);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%+.1f %% (%+.1f … %+.1f)", c->nominal, lo, hi);
  return buf;
}

double invalidations(const scenario::PolicyResult& r) {
  return r.mean_count(sim::Event::kHwIotlbInvPage) + r.mean_count(sim::Event::kHwIotlbInvDomain) +
         r.mean_count(sim::Event::kHwIotlbInvGlobal);
}

uint64_t held(const scenario::PolicyResult& r) {
  uint64_t n = 0;
  for (const auto& kv : r.ptcache_held) n += kv.second;
  return n;
}

void table(std::ostream& out, const scenario::RunOutput& run, const report::Uncertainty& u) {
  const scenario::Scenario& s = run.scenario;
  out << "\n### " << s.name << " — " << run.results.front().operation << "\n\n";
  out << "| policy | latency (µs) | latency | pt (de)alloc per table | all pt work | I/O "
         "throughput "
         "| IOTLB inv/op | pt pages held |\n";
  out << "|---|---|---|---|---|---|---|---|\n";
  for (std::size_t i = 0; i < run.results.size(); ++i) {
    const scenario::PolicyResult& r = run.results[i];
    std::array<std::optional<report::Change>, report::kFigureCount> f{};
    for (const auto& c : u.changes) {
      if (c.policy == r.policy) f = c.figures;
    }
    char lat[32], inv[32];
    std::snprintf(lat, sizeof lat, "%.2f", r.latency.mean / 1000.0);
    std::snprintf(inv, sizeof inv, "%.2f", invalidations(r));
    const bool ref = i == 0;
    out << "| " << r.policy << " | " << lat << " | "
        << (ref ? "ref" : cell(f[static_cast<std::size_t>(report::Figure::kLatency)])) << " | "
        << (ref ? "ref" : cell(f[static_cast<std::size_t>(report::Figure::kPtAllocFree)])) << " | "
        << (ref ? "ref" : cell(f[static_cast<std::size_t>(report::Figure::kPtAll)])) << " | "
        << (ref ? "" : cell(f[static_cast<std::size_t>(report::Figure::kIoThroughput)])) << " | "
        << inv << " | " << held(r) << " |\n";
  }
}

}  // namespace

int cmd_design_space(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string profile_name = "paper-era-server", policies = kDefaultPolicies,
              scenarios = kDefaultScenarios, out_file;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw InputError("design-space: " + a + " needs a value");
      return args[++i];
    };
    if (a == "--profile") {
      profile_name = value();
    } else if (a == "--policies") {
      policies = value();
    } else if (a == "--scenarios") {
      scenarios = value();
    } else if (a == "--out") {
      out_file = value();
    } else {
      err << "design-space: unknown argument '" << a << "'\n" << kDesignSpaceHelp;
      return 2;
    }
  }
  const std::vector<std::string> policy_list = split(policies, "--policies");
  for (const std::string& p : policy_list) policies::find_policy(p);  // names the valid ones
  if (policy_list.front() != "baseline") {
    throw InputError("design-space: the first policy is the reference and must be baseline");
  }
  const std::vector<std::string> scenario_list = split(scenarios, "--scenarios");
  const cost::CostProfile profile = cost::find_profile(profile_name);

  std::ostringstream doc;
  doc << "Design space on profile " << profile_name
      << ": changes against baseline, nominal (5th … 95th percentile over the cost ranges).\n";
  for (const std::string& name : scenario_list) {
    scenario::Scenario s = scenario::find_scenario(name);
    s.policies = policy_list;
    const scenario::RunOutput run = scenario::run_scenario(s, profile);
    for (const auto& r : run.results) {
      if (!r.audit.empty()) {
        throw ModelBug("design-space: " + name + " under " + r.policy +
                       " broke a hypervisor invariant: " + r.audit.front());
      }
    }
    table(doc, run, report::analyse(run));
  }
  out << doc.str();
  if (!out_file.empty()) {
    std::ofstream f(out_file);
    if (!f) throw InputError("design-space: cannot write '" + out_file + "'");
    f << doc.str();
    out << "wrote " << out_file << "\n";
  }
  return 0;
}

}  // namespace pib::app
