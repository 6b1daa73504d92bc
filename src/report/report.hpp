// SPDX-License-Identifier: MIT
// Reports of a scenario run: a readable table, JSON (stable names, documented in
// docs/scenarios.md), CSV, and plots drawn by gnuplot.
#pragma once

#include <iosfwd>
#include <string>

#include "scenario/runner.hpp"

namespace pib::report {

struct Options {
  bool host_time = false;  // include host (wall-clock) figures: not deterministic
  std::size_t breakdown_rows = 12;
};

void write_table(std::ostream& out, const scenario::RunOutput& run, const Options& options);
void write_json(std::ostream& out, const scenario::RunOutput& run, const Options& options);
void write_csv(std::ostream& out, const scenario::RunOutput& run);
// Writes latency.dat and latency.gp into `dir` and runs gnuplot on them to draw latency.svg
// and latency.png. Returns a message saying what was drawn or why not.
std::string write_plots(const std::string& dir, const scenario::RunOutput& run);

}  // namespace pib::report
