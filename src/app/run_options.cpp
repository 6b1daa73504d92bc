// SPDX-License-Identifier: MIT
#include "app/run_options.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "app/args.hpp"
#include "common/error.hpp"
#include "policies/policy_table.hpp"
#include "report/report.hpp"

namespace pib::app {

namespace {

const char* const kRunOptionsHelp =
    R"(  --policy NAME          run only this policy
  --compare A,B,...      run these policies side by side (the first is the reference)
  --profile NAME|FILE    cost profile (default paper-era-server; 'pibooster profiles' lists them)
  --set EVENT=NS         override one unit cost (repeatable); recorded in the resolved profile
  --iterations N         measured iterations
  --warmup N             unmeasured iterations first
  --seed N               seed of the layout draws and of seeded workloads
  --format table|json|csv   what to print (default table)
  --out DIR              write the run into DIR/HASH/ (HASH: a short hash of the resolved
                         scenario and profile, so different configurations never overwrite each
                         other) and point DIR/latest at it: results.json, results.csv,
                         config.csv, table.txt (with the --verbose detail), the resolved
                         scenario.toml and profile.toml, and plots unless --no-plot (run: default
                         DIR results/SCENARIO; workload: only when given)
  --no-plot              do not draw plots
  --verbose              print every span, cost row and counter, not only the summary
  --host-time            also report host time per simulated operation (not deterministic)
)";

constexpr KeyFlag kKeyFlags[] = {
    {"--iterations", "scenario.iterations"},
    {"--warmup", "scenario.warmup"},
    {"--seed", "scenario.seed"},
};

}  // namespace

std::string run_options_help() {
  std::string text = kRunOptionsHelp;
  text += "\npolicies:\n";
  for (const auto& p : policies::policy_table()) {
    std::string name = "  " + std::string(p.name);
    name.resize(std::max<std::size_t>(name.size() + 1, 27), ' ');
    text += name + std::string(p.description) + "\n";
  }
  return text;
}

bool RunOptions::take(const std::vector<std::string>& args, std::size_t& i) {
  const std::string& flag = args[i];
  if (flag == "--host-time") {
    report.host_time = true;
    return true;
  }
  if (flag == "--no-plot") {
    plot = false;
    return true;
  }
  if (flag == "--verbose") {
    report.verbose = true;
    return true;
  }
  const bool known = flag == "--policy" || flag == "--compare" || flag == "--profile" ||
                     flag == "--set" || flag == "--format" || flag == "--out" ||
                     key_of_flag(kKeyFlags, flag) != nullptr;
  if (!known) return false;
  if (i + 1 >= args.size()) throw InputError(flag + " needs a value (see --help)");
  const std::string& v = args[++i];
  if (flag == "--policy" || flag == "--compare") {
    policies = split(v, ',');
    try {
      scenario::check_policies(*policies);
    } catch (const InputError& e) {
      throw InputError(flag + " " + v + ": " + e.what());
    }
  } else if (flag == "--profile") {
    profile = v;
    profile_given = true;
  } else if (flag == "--set") {
    const auto eq = v.find('=');
    if (eq == std::string::npos || eq == 0)
      throw InputError("--set expects EVENT=NS, got '" + v + "'");
    sets.emplace_back(v.substr(0, eq), v.substr(eq + 1));
  } else if (flag == "--format") {
    if (v != "table" && v != "json" && v != "csv") {
      throw InputError("--format must be table, json or csv, got '" + v + "'");
    }
    format = v;
  } else if (flag == "--out") {
    out_dir = v;
  } else {
    keys.emplace_back(key_of_flag(kKeyFlags, flag), v);
    key_flags.push_back(flag);
  }
  return true;
}

void RunOptions::apply(scenario::Scenario& sc) const {
  if (policies) sc.policies = *policies;
  for (std::size_t i = 0; i < keys.size(); ++i) sc.set(keys[i].first, keys[i].second, key_flags[i]);
}

cost::CostProfile RunOptions::load_profile() const {
  cost::CostProfile p = cost::find_profile(profile);
  for (const auto& [k, v] : sets) p.set(k, v);
  return p;
}

Written write_outputs(const std::string& parent, const scenario::RunOutput& run,
                      const RunOptions& options) {
  namespace fs = std::filesystem;
  const std::string hash = report::config_hash(run);
  Written w;
  w.dir = parent + "/" + hash;
  w.latest = parent + "/latest";
  std::error_code ec;
  fs::create_directories(w.dir, ec);
  if (ec) throw InputError("cannot create output directory '" + w.dir + "': " + ec.message());
  auto write = [&](const std::string& name, auto fn) {
    std::ofstream f(w.dir + "/" + name);
    if (!f) throw InputError("cannot write " + w.dir + "/" + name);
    fn(f);
  };
  report::Options detail = options.report;
  detail.verbose = true;
  detail.files.clear();
  write("scenario.toml", [&](std::ostream& f) { f << run.scenario.to_toml(); });
  write("profile.toml", [&](std::ostream& f) { f << run.profile.to_toml(); });
  write("results.json", [&](std::ostream& f) { report::write_json(f, run, options.report); });
  write("results.csv", [&](std::ostream& f) { report::write_csv(f, run, options.report); });
  write("config.csv", [&](std::ostream& f) { report::write_config_csv(f, run, options.report); });
  write("table.txt", [&](std::ostream& f) { report::write_table(f, run, detail); });
  // latest: a relative symlink inside the output directory, replaced only if it is one.
  if (fs::is_symlink(fs::symlink_status(w.latest))) fs::remove(w.latest, ec);
  if (!fs::exists(fs::symlink_status(w.latest))) {
    fs::create_directory_symlink(hash, w.latest, ec);
  }
  if (ec || !fs::is_symlink(fs::symlink_status(w.latest))) {
    throw InputError("cannot point " + w.latest + " at " + hash +
                     (ec ? ": " + ec.message() : ": it exists and is not a symlink"));
  }
  w.plots = options.plot ? report::write_plots(w.dir, run, options.report)
                         : "plots not drawn (--no-plot)";
  return w;
}

std::string Written::note() const {
  return "wrote " + dir +
         "/ (results.json, results.csv, config.csv, table.txt with every counter, scenario.toml, "
         "profile.toml; " +
         plots + "); " + latest + " points there";
}

void print_results(std::ostream& out, const scenario::RunOutput& run, const RunOptions& options) {
  if (options.format == "json") {
    report::write_json(out, run, options.report);
  } else if (options.format == "csv") {
    report::write_csv(out, run, options.report);
  } else {
    report::write_table(out, run, options.report);
  }
}

}  // namespace pib::app
