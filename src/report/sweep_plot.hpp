// SPDX-License-Identifier: MIT
// The sweep plot: one line per series (a policy, with the values of the other axes), the swept
// axis across, a figure up. Written as data and a gnuplot script next to the merged table, and
// drawn (svg, png) when gnuplot is there.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace pib::report {

struct SweepSeries {
  std::string title;
  std::vector<std::pair<std::string, double>> points;  // (x as written, y)
};

struct SweepPlot {
  std::string name;  // file stem in the directory
  std::string title;
  std::string xlabel;
  std::string ylabel;
  bool numeric_x = true;  // false: the x values are labels, placed in order
  bool log_x = false;
  std::vector<SweepSeries> series;
};

// Writes NAME.dat and NAME.gp into `dir` and runs gnuplot; says what became of the plot.
std::string write_sweep_plot(const std::string& dir, const SweepPlot& plot);

}  // namespace pib::report
