// SPDX-License-Identifier: MIT
// What `pibooster run` and `pibooster workload` share: the options that mean the same in both
// (policies, profile, unit-cost overrides, iterations, warm-up, seed, output format and
// directory), and what is done with a run's results (printed, written to a directory).
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "cost/cost_profile.hpp"
#include "report/report.hpp"
#include "scenario/runner.hpp"

namespace pib::app {

// Their lines in both commands' help, with the policies there are.
std::string run_options_help();

struct RunOptions {
  std::optional<std::vector<std::string>> policies;  // --policy / --compare
  std::string profile = "paper-era-server";
  bool profile_given = false;
  std::vector<std::pair<std::string, std::string>> sets;  // --set EVENT=NS
  // --iterations, --warmup, --seed: scenario keys, applied as the file's would be.
  std::vector<std::pair<std::string, std::string>> keys;  // (dotted key, value text)
  std::vector<std::string> key_flags;                     // the flag each came from
  std::string format = "table";
  std::string out_dir;  // empty: the command's default
  bool plot = true;
  report::Options report;

  // Consumes args[i] (and its value, advancing i) when it is one of these options.
  bool take(const std::vector<std::string>& args, std::size_t& i);
  // Applies policies and scenario keys to `sc`.
  void apply(scenario::Scenario& sc) const;
  cost::CostProfile load_profile() const;
};

// Where a run's files went: PARENT/HASH/ and the PARENT/latest symlink to it.
struct Written {
  std::string dir;
  std::string latest;
  std::string plots;         // what became of the plots
  std::string note() const;  // one line saying all of that
};
// Writes results.json, results.csv, config.csv, table.txt (verbose), scenario.toml,
// profile.toml (and plots) to `parent`/HASH/ and points `parent`/latest at it.
Written write_outputs(const std::string& parent, const scenario::RunOutput& run,
                      const RunOptions& options);
// Prints the run in the chosen format.
void print_results(std::ostream& out, const scenario::RunOutput& run, const RunOptions& options);

}  // namespace pib::app
