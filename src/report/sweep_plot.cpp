// SPDX-License-Identifier: MIT
#include "report/sweep_plot.hpp"

#include <cstdlib>
#include <fstream>

namespace pib::report {

namespace {

// Single quotes end a gnuplot string: titles keep their text without them.
std::string gp_text(std::string s) {
  for (char& c : s) {
    if (c == '\'') c = '"';
  }
  return s;
}

}  // namespace

std::string write_sweep_plot(const std::string& dir, const SweepPlot& plot) {
  {
    std::ofstream dat(dir + "/" + plot.name + ".dat");
    // One block per series (gnuplot's `index`), two blank lines apart.
    for (std::size_t s = 0; s < plot.series.size(); ++s) {
      dat << "# " << plot.series[s].title << "\n";
      for (std::size_t i = 0; i < plot.series[s].points.size(); ++i) {
        const auto& [x, y] = plot.series[s].points[i];
        dat << (plot.numeric_x ? x : std::to_string(i)) << "\t" << y << "\t\"" << x << "\"\n";
      }
      dat << "\n\n";
    }
    std::ofstream gp(dir + "/" + plot.name + ".gp");
    gp << "# Redraw with: gnuplot " << plot.name << ".gp\n"
       << "set title '" << gp_text(plot.title) << "' noenhanced\n"
       << "set xlabel '" << gp_text(plot.xlabel) << "' noenhanced\n"
       << "set ylabel '" << gp_text(plot.ylabel) << "' noenhanced\n"
       << "set key outside right noenhanced\nset grid\nset datafile separator '\\t'\n"
       << (plot.log_x ? "set logscale x\n" : "") << "do for [fmt in 'svg png'] {\n"
       << "  if (fmt eq 'svg') { set terminal svg size 900,500 } else { set terminal pngcairo "
          "size 900,500 }\n"
       << "  set output '" << plot.name << ".'.fmt\n  plot ";
    for (std::size_t s = 0; s < plot.series.size(); ++s) {
      gp << (s == 0 ? "" : ", \\\n       ") << "'" << plot.name << ".dat' index " << s
         << (plot.numeric_x ? " using 1:2" : " using 1:2:xtic(3)") << " with linespoints title '"
         << gp_text(plot.series[s].title) << "'";
    }
    gp << "\n}\n";
  }
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    return "gnuplot not found: wrote " + plot.name + ".dat and " + plot.name + ".gp only";
  }
  std::string quoted = "'";  // the directory as one sh word
  for (const char c : dir) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  const std::string cmd = "cd " + quoted + "' && gnuplot " + plot.name + ".gp 2>>gnuplot.log";
  if (std::system(cmd.c_str()) != 0) return "gnuplot failed on " + plot.name + ".gp (gnuplot.log)";
  return "plot " + plot.name + " (.svg, .png)";
}

}  // namespace pib::report
