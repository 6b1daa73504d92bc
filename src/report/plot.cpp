// SPDX-License-Identifier: MIT
// Plots with gnuplot (Debian's gnuplot-nox): where the modeled time of one operation goes per
// policy (latency), what each policy saves against the reference split by part (savings), and
// the cost rows that move the headline most (tornado). Data and scripts are written next to the
// figures so they can be redrawn or restyled; titles name the profile with its overrides.
#include <cstdlib>
#include <fstream>
#include <set>

#include "report/report.hpp"
#include "report/savings.hpp"

namespace pib::report {

namespace {

// Draws `name`.svg and `name`.png from `name`.gp in `dir`; false when gnuplot failed.
bool draw(const std::string& dir, const std::string& name) {
  const std::string cmd = "cd '" + dir + "' && gnuplot " + name + ".gp 2>>gnuplot.log";
  return std::system(cmd.c_str()) == 0;
}

std::string terminals(const std::string& name, int w, int h) {
  const std::string size = std::to_string(w) + "," + std::to_string(h);
  return "do for [fmt in 'svg png'] {\n  if (fmt eq 'svg') { set terminal svg size " + size +
         " } else { set terminal pngcairo size " + size + " }\n  set output '" + name + ".'.fmt\n";
}

void latency_plot(const std::string& dir, const scenario::RunOutput& run,
                  const std::string& title) {
  std::set<sim::Event> top;
  for (const auto& r : run.results) {
    std::size_t n = 0;
    for (const auto& b : cost::breakdown(r.total, run.profile)) {
      if (n++ == 6) break;
      top.insert(b.event);
    }
  }
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
  std::ofstream gp(dir + "/latency.gp");
  gp << "# Redraw with: gnuplot latency.gp\n"
     << "set title '" << title << ": modeled time per " << run.results.front().operation
     << "' noenhanced\n"
     << "set style data histograms\nset style histogram rowstacked\n"
     << "set style fill solid 0.8 border -1\nset boxwidth 0.6\n"
     << "set ylabel 'microseconds per operation'\nset key outside right noenhanced\n"
     << "set xtics noenhanced\nset datafile separator '\\t'\n"
     << terminals("latency", 900, 500) << "  plot for [i=2:" << top.size() + 2
     << "] 'latency.dat' using i:xtic(1) title columnheader(i)\n}\n";
}

void savings_plot(const std::string& dir, const scenario::RunOutput& run,
                  const std::string& title) {
  const auto base = time_by_part(run.results.front(), run.profile);
  std::ofstream dat(dir + "/savings.dat");
  dat << "policy";
  for (const auto n : kPartNames) dat << "\t" << n;
  dat << "\n";
  for (std::size_t i = 1; i < run.results.size(); ++i) {
    const auto t = time_by_part(run.results[i], run.profile);
    dat << run.results[i].policy;
    for (std::size_t p = 0; p < kPartCount; ++p) dat << "\t" << (base[p] - t[p]) / 1000.0;
    dat << "\n";
  }
  std::ofstream gp(dir + "/savings.gp");
  gp << "# Redraw with: gnuplot savings.gp\n"
     << "set title '" << title << ": saved against " << run.results.front().policy << " per "
     << run.results.front().operation << "' noenhanced\n"
     << "set style data histograms\nset style histogram clustered gap 1\n"
     << "set style fill solid 0.8 border -1\nset ylabel 'microseconds saved per operation'\n"
     << "set key outside right noenhanced\nset xtics noenhanced\nset xzeroaxis\n"
     << "set datafile separator '\\t'\n"
     << terminals("savings", 900, 500) << "  plot for [i=2:" << kPartCount + 1
     << "] 'savings.dat' using i:xtic(1) title "
     << "columnheader(i)\n}\n";
}

void tornado_plot(const std::string& dir, const scenario::RunOutput& run, const Uncertainty& u,
                  const std::string& title) {
  const std::size_t rows = std::min<std::size_t>(u.tornado.size(), 12);
  double nominal = 0;
  if (const auto& c = u.changes[*u.headline].figures[static_cast<std::size_t>(u.headline_figure)])
    nominal = c->nominal;
  std::ofstream dat(dir + "/tornado.dat");
  dat << "# row\tcost\tat_low_pct\tat_high_pct\tlow_ns\thigh_ns (largest swing at the top)\n";
  for (std::size_t i = 0; i < rows; ++i) {
    const TornadoRow& t = u.tornado[i];
    dat << rows - 1 - i << "\t" << sim::event_name(t.event) << "\t" << t.at_low << "\t" << t.at_high
        << "\t" << t.low_ns << "\t" << t.high_ns << "\n";
  }
  std::ofstream gp(dir + "/tornado.gp");
  gp << "# Redraw with: gnuplot tornado.gp\n"
     << "set title '" << title << ": " << u.changes[*u.headline].policy << " vs " << u.reference
     << ", " << figure_label(u.headline_figure, run.results.front().operation)
     << " with each cost at its low (blue) and high (red) end' noenhanced\n"
     << "set xlabel 'change (%)'\nset datafile separator '\\t'\nunset key\n"
     << "set ytics noenhanced\nset yrange [-1:" << rows << "]\nset style fill solid 0.8\n"
     << "nominal = " << nominal
     << "\nset arrow from nominal, graph 0 to nominal, graph 1 nohead dt 2\n"
     << terminals("tornado", 1000, 120 + 36 * static_cast<int>(rows))
     << "  plot 'tornado.dat' using (($3+nominal)/2):1:(nominal):3:($1-0.35):($1+0.35):ytic(2) "
        "with boxxyerror lc rgb '#3366cc', \\\n"
     << "       'tornado.dat' using (($4+nominal)/2):1:(nominal):4:($1-0.35):($1+0.35) with "
        "boxxyerror lc rgb '#cc3333'\n}\n";
}

}  // namespace

std::string write_plots(const std::string& dir, const scenario::RunOutput& run,
                        const Options& options) {
  const Uncertainty computed = options.uncertainty != nullptr ? Uncertainty{} : analyse(run);
  const Uncertainty& u = options.uncertainty != nullptr ? *options.uncertainty : computed;
  const std::string title = run.scenario.name + " (" + run.profile.label() + ")";
  std::vector<std::string> names = {"latency"};
  latency_plot(dir, run, title);
  if (run.results.size() > 1) {
    savings_plot(dir, run, title);
    names.push_back("savings");
  }
  if (u.headline && !u.tornado.empty()) {
    tornado_plot(dir, run, u, title);
    names.push_back("tornado");
  }
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    return "gnuplot not found: wrote the .dat and .gp of " + list + " only";
  }
  for (const auto& n : names) {
    if (!draw(dir, n)) return "gnuplot failed on " + n + ".gp (see gnuplot.log)";
  }
  return "plots " + list + " (.svg, .png)";
}

}  // namespace pib::report
