// SPDX-License-Identifier: MIT
// Reports of a scenario run: a readable table, JSON (stable names, documented in
// docs/scenarios.md), CSV, and plots drawn by gnuplot.
#pragma once

#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include "report/uncertainty.hpp"
#include "scenario/runner.hpp"

namespace pib::report {

struct Options {
  bool host_time = false;    // include host (wall-clock) figures: not deterministic
  bool verbose = false;      // the table adds every span, every cost row and every counter
  std::string tool_version;  // recorded in every output (app/version.hpp)
  // The analysis of the run's costs; computed by the writer when not given.
  const Uncertainty* uncertainty = nullptr;
  std::string files;  // where the run's files are, for the table's last line (empty: none)
};

// A short hash of everything that decides the results: the resolved scenario and profile
// (origins and comments left out, so a copy of a file hashes the same). Output directories are
// named by it, so runs of different configurations never overwrite each other.
std::string config_hash(const scenario::RunOutput& run);
std::string config_hash(const scenario::Scenario& scenario, const cost::CostProfile& profile);
// The resolved configuration as flat key-value rows: every scenario key ("machine.iommu"),
// every unit cost with its range ("cost.hw.iotlb.invalidations.page.ns"), every override, the
// seed and the tool version — config.csv, and the JSON's record of how the run was made.
std::vector<std::pair<std::string, std::string>> config_rows(const scenario::RunOutput& run,
                                                             const Options& options);
void write_config_csv(std::ostream& out, const scenario::RunOutput& run, const Options& options);

void write_table(std::ostream& out, const scenario::RunOutput& run, const Options& options);
void write_json(std::ostream& out, const scenario::RunOutput& run, const Options& options);
void write_csv(std::ostream& out, const scenario::RunOutput& run, const Options& options);
// Writes the data and gnuplot scripts of the run's figures into `dir` — where the time goes
// per policy (latency.*), the savings split per policy (savings.*) and the tornado of the cost
// rows that move the headline (tornado.*) — and runs gnuplot on them (svg and png). Returns a
// message saying what was drawn or why not.
std::string write_plots(const std::string& dir, const scenario::RunOutput& run,
                        const Options& options);

}  // namespace pib::report
