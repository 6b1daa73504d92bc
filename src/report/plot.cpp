// SPDX-License-Identifier: MIT
// Plots with gnuplot (Debian's gnuplot-nox): a stacked bar per policy of where the modeled
// time of one operation goes. The data and script are written next to the figure so it can be
// redrawn or restyled.
#include <cstdlib>
#include <fstream>
#include <set>

#include "report/report.hpp"

namespace pib::report {

std::string write_plots(const std::string& dir, const scenario::RunOutput& run) {
  std::set<sim::Event> top;
  for (const auto& r : run.results) {
    std::size_t n = 0;
    for (const auto& b : cost::breakdown(r.total, run.profile)) {
      if (n++ == 6) break;
      top.insert(b.event);
    }
  }
  {
    std::ofstream dat(dir + "/latency.dat");
    dat << "policy";
    for (const sim::Event e : top) dat << "\t" << sim::event_name(e);
    dat << "\tother\n";
    for (const auto& r : run.results) {
      dat << r.policy;
      double shown = 0;
      for (const sim::Event e : top) {
        const double us = r.mean_ns(e, run.profile) / 1000.0;
        shown += us;
        dat << "\t" << us;
      }
      dat << "\t" << (r.latency.mean / 1000.0 - shown) << "\n";
    }
  }
  {
    std::ofstream gp(dir + "/latency.gp");
    gp << "# Redraw with: gnuplot latency.gp\n"
       << "set title '" << run.scenario.name << ": modeled time per "
       << run.results.front().operation << " (profile " << run.profile.name() << ")' noenhanced\n"
       << "set style data histograms\nset style histogram rowstacked\nset style fill solid 0.8 "
          "border -1\n"
       << "set boxwidth 0.6\nset ylabel 'microseconds per operation'\nset key outside right "
          "noenhanced\n"
       << "set xtics noenhanced\nset datafile separator '\\t'\n"
       << "do for [fmt in 'svg png'] {\n"
       << "  if (fmt eq 'svg') { set terminal svg size 900,500 } else { set terminal pngcairo size "
          "900,500 }\n"
       << "  set output 'latency.'.fmt\n"
       << "  plot for [i=2:" << top.size() + 2
       << "] 'latency.dat' using i:xtic(1) title columnheader(i)\n"
       << "}\n";
  }
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    return "gnuplot not found: wrote latency.dat and latency.gp only";
  }
  const std::string cmd = "cd '" + dir + "' && gnuplot latency.gp 2>gnuplot.log";
  if (std::system(cmd.c_str()) != 0) {
    return "gnuplot failed (see " + dir + "/gnuplot.log); latency.dat and latency.gp are there";
  }
  return "drew " + dir + "/latency.svg and latency.png";
}

}  // namespace pib::report
