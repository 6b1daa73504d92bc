// SPDX-License-Identifier: MIT
#include "app/run_cmd.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <ostream>

#include "app/args.hpp"
#include "app/run_options.hpp"
#include "app/version.hpp"
#include "common/error.hpp"
#include "policies/policy_table.hpp"
#include "report/report.hpp"

namespace pib::app {

namespace {
const char* const kRunUsage = R"(usage: pibooster run SCENARIO [options]

Runs SCENARIO (a built-in name from 'pibooster scenarios', or a path to a .toml file) under
each of its policies on one cost profile, and prints a screenful: the headline figures against
the first policy with 90 % intervals from draws of every cost over its range, beside the
paper's; one row per policy (latency, page-table work per table and in all, IOTLB
invalidations); the savings split; the cost rows that move the headline most; where the files
are (--verbose adds every span, cost row and counter). Results, the resolved scenario and the
resolved profile are written to the output directory.

options:
)";
}  // namespace

std::string run_help() {
  return std::string(kRunUsage) + run_options_help();
}

const char* const kScenariosHelp = R"(usage: pibooster scenarios [--show NAME]

Lists the built-in scenarios (the files of scenarios/), or prints one.
)";

const char* const kProfilesHelp = R"(usage: pibooster profiles [--show NAME|FILE]

Lists the built-in cost profiles (the files of profiles/), or prints one resolved: every work
event's unit cost with its source, mark and range (docs/cost-model.md).
)";

namespace {

// A one-line progress indicator on a terminal, shown once a run has taken a second.
class ProgressBar {
 public:
  explicit ProgressBar(const std::vector<std::string>& policies)
      : policies_(policies),
        enabled_(isatty(STDERR_FILENO) == 1),
        start_(std::chrono::steady_clock::now()) {}
  ~ProgressBar() {
    if (shown_) std::fprintf(stderr, "\r%60s\r", "");
  }
  void update(std::size_t policy, uint64_t done, uint64_t total) {
    if (!enabled_) return;
    if (std::chrono::steady_clock::now() - start_ < std::chrono::seconds(1)) return;
    shown_ = true;
    const int width = 30;
    const int filled = static_cast<int>(width * done / (total == 0 ? 1 : total));
    std::fprintf(stderr, "\r%-12s [%-*s] %llu/%llu", policies_[policy].c_str(), width,
                 std::string(static_cast<std::size_t>(filled), '#').c_str(),
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total));
    std::fflush(stderr);
  }

 private:
  std::vector<std::string> policies_;
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

int cmd_run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() < 2 || args[1].rfind("--", 0) == 0) {
    err << run_help();
    return 2;
  }
  scenario::Scenario sc = scenario::find_scenario(args[1]);
  RunOptions options;
  for (std::size_t i = 2; i < args.size(); ++i) {
    if (!options.take(args, i)) {
      throw InputError("unknown option '" + args[i] + "' (see pibooster run --help)");
    }
  }
  options.apply(sc);
  const cost::CostProfile profile = options.load_profile();
  const std::string out_dir = options.out_dir.empty() ? "results/" + sc.name : options.out_dir;

  ProgressBar bar(sc.policies);
  const scenario::RunOutput run = scenario::run_scenario(
      sc, profile, [&](std::size_t p, uint64_t d, uint64_t t) { bar.update(p, d, t); });

  const report::Uncertainty u = report::analyse(run);
  options.report.uncertainty = &u;
  options.report.tool_version = tool_version();
  const Written w = write_outputs(out_dir, run, options);
  options.report.files = w.note();
  print_results(out, run, options);
  for (const auto& r : run.results) {
    if (!r.audit.empty()) return 1;
  }
  return 0;
}

int cmd_scenarios(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() == 3 && args[1] == "--show") {
    for (const auto& b : scenario::builtin_scenarios()) {
      if (b.name == args[2]) {
        out << b.text;
        return 0;
      }
    }
    err << "pibooster: no built-in scenario '" << args[2] << "'\n";
    return 2;
  }
  if (args.size() != 1) {
    err << kScenariosHelp;
    return 2;
  }
  std::vector<scenario::Scenario> all;
  std::size_t width = 0;
  for (const auto& b : scenario::builtin_scenarios()) {
    all.push_back(scenario::Scenario::parse(b.text, "built-in:" + b.name));
    width = std::max(width, all.back().name.size());
  }
  for (const auto& s : all) {
    out << std::left << std::setw(static_cast<int>(width + 2)) << s.name << s.description << "\n";
  }
  return 0;
}

int cmd_profiles(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() == 3 && args[1] == "--show") {
    out << cost::find_profile(args[2]).to_toml();
    return 0;
  }
  if (args.size() != 1) {
    err << kProfilesHelp;
    return 2;
  }
  std::vector<cost::CostProfile> all;
  std::size_t width = 0;
  for (const auto& b : cost::builtin_profiles()) {
    all.push_back(cost::CostProfile::parse(b.text, "built-in:" + b.name));
    width = std::max(width, all.back().name().size());
  }
  for (const auto& p : all) {
    out << std::left << std::setw(static_cast<int>(width + 2)) << p.name() << p.description()
        << "\n";
  }
  return 0;
}

}  // namespace pib::app
