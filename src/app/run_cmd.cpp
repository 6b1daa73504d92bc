// SPDX-License-Identifier: MIT
#include "app/run_cmd.hpp"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <ostream>

#include "app/args.hpp"
#include "common/error.hpp"
#include "report/report.hpp"
#include "scenario/policy.hpp"

namespace pib::app {

const char* const kRunHelp = R"(usage: pibooster run SCENARIO [options]

Runs SCENARIO (a built-in name from 'pibooster scenarios', or a path to a .toml file) under
each of its policies on one cost profile, and prints modeled latencies, where the time goes,
and every counter per operation, with each policy's ratio to the first. Results, the resolved
scenario and the resolved profile are written to the output directory.

options:
  --policy NAME          run only this policy
  --compare A,B,...      run these policies side by side (the first is the reference)
  --profile NAME|FILE    cost profile (default paper-era-server; 'pibooster profiles' lists them)
  --set EVENT=NS         override one unit cost (repeatable); recorded in the resolved profile
  --iterations N         override the scenario's measured iterations
  --format table|json|csv   what to print (default table); all three are written to --out
  --out DIR              output directory (default results/SCENARIO)
  --no-plot              do not draw plots
  --host-time            also report host time per simulated operation (not deterministic)
)";

const char* const kScenariosHelp = R"(usage: pibooster scenarios [--show NAME]

Lists the built-in scenarios (the files of scenarios/), or prints one.
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
    err << kRunHelp;
    return 2;
  }
  scenario::Scenario sc = scenario::find_scenario(args[1]);
  std::string profile_name = "paper-era-server";
  std::vector<std::pair<std::string, std::string>> sets;
  std::string format = "table";
  std::string out_dir;
  bool plot = true;
  report::Options options;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--host-time") {
      options.host_time = true;
      continue;
    }
    if (flag == "--no-plot") {
      plot = false;
      continue;
    }
    if (i + 1 >= args.size()) throw InputError(flag + " needs a value (see pibooster run --help)");
    const std::string& v = args[++i];
    if (flag == "--policy" || flag == "--compare") {
      sc.policies = split(v, ',');
      scenario::check_policies(sc.policies);
    } else if (flag == "--profile") {
      profile_name = v;
    } else if (flag == "--set") {
      const auto eq = v.find('=');
      if (eq == std::string::npos || eq == 0)
        throw InputError("--set expects EVENT=NS, got '" + v + "'");
      sets.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    } else if (flag == "--iterations") {
      const uint64_t n = parse_u64(flag, v);
      if (n == 0) throw InputError("--iterations must be at least 1");
      sc.iterations = n;
    } else if (flag == "--format") {
      if (v != "table" && v != "json" && v != "csv") {
        throw InputError("--format must be table, json or csv, got '" + v + "'");
      }
      format = v;
    } else if (flag == "--out") {
      out_dir = v;
    } else {
      throw InputError("unknown option '" + flag + "' (see pibooster run --help)");
    }
  }
  cost::CostProfile profile = cost::find_profile(profile_name);
  for (const auto& [k, v] : sets) profile.set(k, v);
  if (out_dir.empty()) out_dir = "results/" + sc.name;

  ProgressBar bar(sc.policies);
  const scenario::RunOutput run = scenario::run_scenario(
      sc, profile, [&](std::size_t p, uint64_t d, uint64_t t) { bar.update(p, d, t); });

  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw InputError("cannot create output directory '" + out_dir + "': " + ec.message());
  auto write = [&](const std::string& name, auto fn) {
    std::ofstream f(out_dir + "/" + name);
    if (!f) throw InputError("cannot write " + out_dir + "/" + name);
    fn(f);
  };
  write("scenario.toml", [&](std::ostream& f) { f << sc.to_toml(); });
  write("profile.toml", [&](std::ostream& f) { f << profile.to_toml(); });
  write("results.json", [&](std::ostream& f) { report::write_json(f, run, options); });
  write("results.csv", [&](std::ostream& f) { report::write_csv(f, run); });
  write("table.txt", [&](std::ostream& f) { report::write_table(f, run, options); });
  std::string plot_note = "plots not drawn (--no-plot)";
  if (plot) plot_note = report::write_plots(out_dir, run);

  if (format == "json") {
    report::write_json(out, run, options);
  } else if (format == "csv") {
    report::write_csv(out, run);
  } else {
    report::write_table(out, run, options);
    out << "\nwrote " << out_dir
        << "/{results.json,results.csv,table.txt,scenario.toml,profile.toml}; " << plot_note
        << "\n";
  }
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
  for (const auto& b : scenario::builtin_scenarios()) {
    const scenario::Scenario s = scenario::Scenario::parse(b.text, "built-in:" + b.name);
    out << std::left << std::setw(20) << s.name << s.description << "\n";
  }
  return 0;
}

int cmd_profiles(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() == 3 && args[1] == "--show") {
    out << cost::find_profile(args[2]).to_toml();
    return 0;
  }
  if (args.size() != 1) {
    err << "usage: pibooster profiles [--show NAME|FILE]\n";
    return 2;
  }
  for (const auto& b : cost::builtin_profiles()) {
    const cost::CostProfile p = cost::CostProfile::parse(b.text, "built-in:" + b.name);
    out << std::left << std::setw(20) << p.name() << p.description() << "\n";
  }
  return 0;
}

}  // namespace pib::app
