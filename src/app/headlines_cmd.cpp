// SPDX-License-Identifier: MIT
#include "app/headlines_cmd.hpp"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>

#include "common/error.hpp"

namespace pib::app {

const char* const kHeadlinesHelp = R"(usage: pibooster headlines RESULTS.json...

Reads the results.json of runs (e.g. results/*/latest/results.json) and prints one table: for
each run that compares pibooster with baseline, every headline figure — latency, page-table
(de)allocation per table, all page-table work with pin/unpin, I/O throughput, IOTLB
invalidations per operation — the model's change with its 90 % interval over the cost ranges,
beside the paper's figure where the scenario states one; and, where the run has it,
pibooster-plus's latency (or I/O throughput) and all page-table work.
)";

namespace {

using nlohmann::json;

std::string change_text(const json& c) {
  const double n = c.at("nominal_pct").get<double>();
  const double lo = c.at("p05_pct").get<double>();
  const double hi = c.at("p95_pct").get<double>();
  char buf[96];
  std::snprintf(buf, sizeof buf, "%+.1f %% (90 %%: %+.1f … %+.1f %%)", n, n < 0 ? hi : lo,
                n < 0 ? lo : hi);
  return buf;
}

std::string pad(std::string s, std::size_t w) {
  std::size_t cols = 0;
  for (const unsigned char c : s) cols += (c & 0xC0) != 0x80;
  if (cols < w) s.append(w - cols, ' ');
  return s;
}

double invalidations(const json& result) {
  double n = 0;
  const json& c = result.at("counters");
  for (const char* k : {"hw.iotlb.invalidations.page", "hw.iotlb.invalidations.domain",
                        "hw.iotlb.invalidations.global"}) {
    if (c.contains(k)) n += c.at(k).get<double>();
  }
  return n;
}

}  // namespace

int cmd_headlines(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() < 2) {
    err << kHeadlinesHelp;
    return 2;
  }
  out << pad("scenario", 24) << pad("figure, pibooster vs baseline", 34) << pad("model", 36)
      << "paper\n";
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::ifstream in(args[i]);
    if (!in) throw InputError("cannot open results '" + args[i] + "'");
    json j;
    try {
      j = json::parse(in);
    } catch (const json::exception& e) {
      throw InputError(args[i] + ": not JSON (" + e.what() + ")");
    }
    try {
      const std::string name = j.at("scenario").at("name").get<std::string>();
      const json& u = j.at("uncertainty");
      if (u.at("reference") != "baseline") continue;
      const json* pb = nullptr;
      const json* plus = nullptr;  // the design beyond PiBooster, where the run has it
      for (const auto& c : u.at("changes")) {
        if (c.at("policy") == "pibooster") pb = &c;
        if (c.at("policy") == "pibooster-plus") plus = &c;
      }
      if (pb == nullptr) continue;
      const json& paper = j.at("scenario").at("resolved").value("paper", json::object());
      const std::string op = j.at("results").at(0).at("operation").get<std::string>();
      bool first = true;
      const auto row = [&](const std::string& label, const std::string& model,
                           const std::string& paper_text) {
        out << pad(first ? name : "", 24) << pad(label, 34) << pad(model, 36) << paper_text << "\n";
        first = false;
      };
      const auto paper_pct = [&](const char* key) {
        if (!paper.contains(key)) return std::string();
        char buf[32];
        std::snprintf(buf, sizeof buf, "%+.1f %%", paper.at(key).get<double>());
        return std::string(buf);
      };
      if (pb->contains("latency"))
        row(op + " latency", change_text(pb->at("latency")), paper_pct("latency_change_pct"));
      if (pb->contains("pt_alloc_free"))
        row("page-table (de)alloc, per table", change_text(pb->at("pt_alloc_free")),
            paper_pct("pt_work_change_pct"));
      if (pb->contains("pt_all")) row("all page-table work", change_text(pb->at("pt_all")), "");
      if (pb->contains("io_throughput"))
        row("I/O throughput", change_text(pb->at("io_throughput")), "no negative impact");
      double base = 0, pib = 0;
      for (const auto& r : j.at("results")) {
        if (r.at("policy") == "baseline") base = invalidations(r);
        if (r.at("policy") == "pibooster") pib = invalidations(r);
      }
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.2f -> %.2f", base, pib);
      row("IOTLB invalidations per op", buf, base > 0 ? "all eliminated (stable workload)" : "");
      if (plus != nullptr) {
        const char* figure = plus->contains("io_throughput") ? "io_throughput" : "latency";
        row(std::string("pibooster-plus: ") + (plus->contains("io_throughput") ? "I/O" : op),
            change_text(plus->at(figure)), "");
        if (plus->contains("pt_all"))
          row("pibooster-plus: all pt work", change_text(plus->at("pt_all")), "");
      }
    } catch (const json::exception& e) {
      throw InputError(args[i] + ": not a pibooster results file (" + e.what() + ")");
    }
  }
  return 0;
}

}  // namespace pib::app
