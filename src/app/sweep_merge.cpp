// SPDX-License-Identifier: MIT
#include "app/sweep_merge.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "app/safe_write.hpp"
#include "app/sweep_job.hpp"
#include "app/version.hpp"
#include "common/error.hpp"
#include "common/text_file.hpp"
#include "report/sweep_plot.hpp"

namespace pib::app {

const char* const kMergeHelp = R"(usage: pibooster merge DIR [--format table|csv|json] [--no-plot]

Gathers the results of the sweep in DIR (the output of 'pibooster sweep': DIR/sweep.json lists
its jobs, DIR/jobs/HASH/results.json holds each one's results) into one table, one row per job
in the sweep's order: its values of every axis, its policy, the mean, median and p99 latency,
both page-table metrics (per-table allocation and free; all page-table work with pin/unpin),
IOTLB invalidations per operation, and the change of latency and page-table work against the
sweep's first policy at the same axis values. Writes DIR/merged.csv, DIR/merged.json and the
sweep plot (DIR/sweep.svg, .png: latency along the first axis, one line per policy and values of
the other axes; unless --no-plot); prints the table (or CSV or JSON with --format). Exit
status 1 when some jobs have no results yet (they are left out, and named).
)";

namespace {

using nlohmann::ordered_json;
namespace fs = std::filesystem;

struct Row {
  std::size_t index = 0;
  std::string hash;
  std::string policy;
  std::vector<std::string> values;
  std::string operation;
  double mean = 0, median = 0, p99 = 0;
  double pt_work = 0, pt_alloc_free = 0, iotlb = 0;
  std::optional<double> io_mb_s;
  std::optional<double> latency_change, pt_change;  // vs the first policy at the same values
};

ordered_json read_json(const std::string& path, const std::string& what) {
  const std::string text = read_text_file(path, what);
  try {
    return ordered_json::parse(text);
  } catch (const ordered_json::exception& e) {
    throw InputError(what + " '" + path + "' is not valid JSON: " + e.what());
  }
}

double number(const ordered_json& j, const char* key, const std::string& path) {
  if (!j.contains(key) || !j.at(key).is_number()) {
    throw InputError(path + ": no number '" + key + "' (not a pibooster-results/2 file?)");
  }
  return j.at(key).get<double>();
}

// The row of one job from its results.json; the file must be the job's own.
Row read_row(const std::string& path, const std::string& hash) {
  const ordered_json j = read_json(path, "job results");
  if (j.value("config_hash", "") != hash) {
    throw InputError(path + ": its config_hash is '" + j.value("config_hash", "") +
                     "', not the job's " + hash);
  }
  if (!j.contains("results") || !j["results"].is_array() || j["results"].size() != 1) {
    throw InputError(path + ": a sweep job's results hold exactly one policy");
  }
  const ordered_json& r = j["results"][0];
  Row row;
  row.hash = hash;
  row.policy = r.value("policy", "");
  row.operation = r.value("operation", "");
  const ordered_json& lat = r.at("latency").at(row.operation);
  row.mean = number(lat, "mean_ns", path);
  row.median = number(lat, "median_ns", path);
  row.p99 = number(lat, "p99_ns", path);
  row.pt_work = number(r, "page_table_work_ns", path);
  row.pt_alloc_free = number(r, "page_table_alloc_free_ns", path);
  row.iotlb = number(r, "iotlb_invalidations_per_op", path);
  if (r.contains("io_throughput_mb_s")) row.io_mb_s = number(r, "io_throughput_mb_s", path);
  return row;
}

std::optional<double> change(double value, double reference) {
  if (reference == 0) return std::nullopt;
  return (value / reference - 1.0) * 100.0;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

std::string opt(const std::optional<double>& v) {
  return v ? num(*v) : "";
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (const char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

struct Sweep {
  std::string name;
  std::string profile;
  std::string reference;  // the first policy
  std::vector<std::string> axes;
  std::vector<Row> rows;
  std::vector<std::string> missing;
  std::size_t jobs = 0;
};

Sweep read_sweep(const std::string& dir) {
  const std::string manifest = dir + "/" + kSweepManifest;
  const ordered_json m = read_json(manifest, "sweep manifest");
  if (m.value("format", "") != "pibooster-sweep-jobs/1") {
    throw InputError(manifest + ": not a pibooster sweep manifest (format pibooster-sweep-jobs/1)");
  }
  Sweep s;
  s.name = m.value("name", "");
  s.profile = m.value("profile_label", m.value("profile", ""));
  s.axes = m.at("axes").get<std::vector<std::string>>();
  const auto policies = m.at("policies").get<std::vector<std::string>>();
  s.reference = policies.empty() ? "" : policies.front();
  for (const auto& job : m.at("jobs")) {
    ++s.jobs;
    const std::string hash = job.at("hash").get<std::string>();
    // Hashes name folders: only what `sweep` writes, so a manifest cannot point elsewhere.
    if (hash.empty() || hash.find_first_not_of("0123456789abcdef") != std::string::npos) {
      throw InputError(manifest + ": job hash '" + hash + "' is not a configuration hash");
    }
    const std::string job_dir = dir + "/jobs/" + hash;
    if (!job_done(job_dir)) {
      s.missing.push_back(hash);
      continue;
    }
    Row row = read_row(job_dir + "/" + kJobDoneFile, hash);
    row.index = job.at("index").get<std::size_t>();
    row.values = job.at("values").get<std::vector<std::string>>();
    if (row.policy != job.at("policy").get<std::string>()) {
      throw InputError(job_dir + ": results of policy " + row.policy + ", the sweep lists " +
                       job.at("policy").get<std::string>());
    }
    s.rows.push_back(std::move(row));
  }
  std::map<std::vector<std::string>, const Row*> reference;
  for (const Row& r : s.rows) {
    if (r.policy == s.reference) reference[r.values] = &r;
  }
  for (Row& r : s.rows) {
    const auto it = reference.find(r.values);
    if (r.policy == s.reference || it == reference.end()) continue;
    r.latency_change = change(r.mean, it->second->mean);
    r.pt_change = change(r.pt_work, it->second->pt_work);
  }
  return s;
}

std::string csv_text(const Sweep& s) {
  std::ostringstream o;
  o << "index,job,policy";
  for (const auto& a : s.axes) o << "," << csv_field(a);
  o << ",operation,latency_mean_ns,latency_median_ns,latency_p99_ns,page_table_work_ns,"
       "page_table_alloc_free_ns,iotlb_invalidations_per_op,io_throughput_mb_s,"
       "latency_change_pct,page_table_work_change_pct\n";
  for (const Row& r : s.rows) {
    o << r.index << "," << r.hash << "," << r.policy;
    for (const auto& v : r.values) o << "," << csv_field(v);
    o << "," << csv_field(r.operation) << "," << num(r.mean) << "," << num(r.median) << ","
      << num(r.p99) << "," << num(r.pt_work) << "," << num(r.pt_alloc_free) << "," << num(r.iotlb)
      << "," << opt(r.io_mb_s) << "," << opt(r.latency_change) << "," << opt(r.pt_change) << "\n";
  }
  return o.str();
}

std::string json_text(const Sweep& s) {
  ordered_json j;
  j["format"] = "pibooster-sweep-merged/1";
  j["tool_version"] = tool_version();
  j["sweep"] = s.name;
  j["reference_policy"] = s.reference;
  j["axes"] = s.axes;
  j["jobs"] = s.jobs;
  j["missing"] = s.missing;
  ordered_json rows = ordered_json::array();
  for (const Row& r : s.rows) {
    ordered_json row;
    row["index"] = r.index;
    row["job"] = r.hash;
    row["policy"] = r.policy;
    ordered_json values = ordered_json::object();
    for (std::size_t a = 0; a < s.axes.size(); ++a) values[s.axes[a]] = r.values[a];
    row["values"] = values;
    row["operation"] = r.operation;
    row["latency_mean_ns"] = r.mean;
    row["latency_median_ns"] = r.median;
    row["latency_p99_ns"] = r.p99;
    row["page_table_work_ns"] = r.pt_work;
    row["page_table_alloc_free_ns"] = r.pt_alloc_free;
    row["iotlb_invalidations_per_op"] = r.iotlb;
    if (r.io_mb_s) row["io_throughput_mb_s"] = *r.io_mb_s;
    if (r.latency_change) row["latency_change_pct"] = *r.latency_change;
    if (r.pt_change) row["page_table_work_change_pct"] = *r.pt_change;
    rows.push_back(row);
  }
  j["rows"] = rows;
  return j.dump(2) + "\n";
}

std::string pad(const std::string& s, std::size_t w) {
  return s.size() >= w ? s + " " : s + std::string(w - s.size(), ' ');
}

std::string pct(const std::optional<double>& v) {
  if (!v) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f %%", *v);
  return buf;
}

std::string us(double ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", ns / 1000.0);
  return buf;
}

// A screenful: the first rows, and where the rest are.
void print_table(std::ostream& out, const Sweep& s) {
  constexpr std::size_t kShown = 40;
  std::vector<std::size_t> width;
  for (std::size_t a = 0; a < s.axes.size(); ++a) {
    std::size_t w = s.axes[a].size();
    for (const Row& r : s.rows) w = std::max(w, r.values[a].size());
    width.push_back(std::min<std::size_t>(w, 40));
  }
  std::size_t pw = 6;
  for (const Row& r : s.rows) pw = std::max(pw, r.policy.size());
  std::string head;
  for (std::size_t a = 0; a < s.axes.size(); ++a) head += pad(s.axes[a], width[a] + 1);
  out << head << pad("policy", pw + 1) << pad("latency us", 11) << pad("vs " + s.reference, 12)
      << pad("pt all us", 10) << pad("vs " + s.reference, 12) << "IOTLB inv\n";
  for (std::size_t i = 0; i < s.rows.size() && i < kShown; ++i) {
    const Row& r = s.rows[i];
    std::string line;
    for (std::size_t a = 0; a < s.axes.size(); ++a) line += pad(r.values[a], width[a] + 1);
    char inv[32];
    std::snprintf(inv, sizeof inv, "%.2f", r.iotlb);
    out << line << pad(r.policy, pw + 1) << pad(us(r.mean), 11) << pad(pct(r.latency_change), 12)
        << pad(us(r.pt_work), 10) << pad(pct(r.pt_change), 12) << inv << "\n";
  }
  if (s.rows.size() > kShown) out << "... " << s.rows.size() - kShown << " more rows\n";
}

bool numeric(const std::string& s) {
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  return !s.empty() && end == s.c_str() + s.size() && std::isfinite(d);
}

report::SweepPlot sweep_plot(const Sweep& s) {
  report::SweepPlot p;
  p.name = "sweep";
  p.title = "sweep " + s.name + ": modeled latency per " +
            (s.rows.empty() ? std::string("operation") : s.rows.front().operation) + " (" +
            s.profile + ")";
  p.xlabel = s.axes.empty() ? "policy" : s.axes.front();
  p.ylabel = "microseconds per operation";
  p.numeric_x = !s.axes.empty();
  double lo = 0, hi = 0;
  std::map<std::string, std::size_t> by_title;
  for (const Row& r : s.rows) {
    // A series: the policy and the values of every axis but the first.
    std::string title = r.policy;
    for (std::size_t a = 1; a < s.axes.size(); ++a) title += ", " + s.axes[a] + "=" + r.values[a];
    const std::string x = s.axes.empty() ? r.policy : r.values.front();
    p.numeric_x = p.numeric_x && numeric(x);
    if (p.numeric_x) {
      const double v = std::strtod(x.c_str(), nullptr);
      lo = by_title.empty() ? v : std::min(lo, v);
      hi = by_title.empty() ? v : std::max(hi, v);
    }
    const auto [it, fresh] = by_title.emplace(title, p.series.size());
    if (fresh) p.series.push_back({title, {}});
    p.series[it->second].points.emplace_back(x, r.mean / 1000.0);
  }
  // Costs are swept over ranges given as factors: a wide positive axis reads best in log.
  p.log_x = p.numeric_x && lo > 0 && hi / lo >= 10;
  return p;
}

}  // namespace

int merge_sweep(const std::string& dir, const MergeOptions& options, std::ostream& out) {
  Sweep s;
  try {
    s = read_sweep(dir);
  } catch (const ordered_json::exception& e) {
    // A key missing or of the wrong type: the files were not written by this tool's sweep.
    throw InputError("merge " + dir + ": malformed sweep manifest or job results: " + e.what());
  }
  const std::string csv = csv_text(s);
  const std::string json = json_text(s);
  write_file_whole(dir + "/merged.csv", csv);
  write_file_whole(dir + "/merged.json", json);
  std::string plots = "no plot (--no-plot)";
  if (options.plot && !s.rows.empty()) plots = report::write_sweep_plot(dir, sweep_plot(s));
  if (options.format == "csv") {
    out << csv;
  } else if (options.format == "json") {
    out << json;
  } else {
    print_table(out, s);
    out << "merged " << s.rows.size() << " of " << s.jobs << " jobs into " << dir
        << "/merged.csv and merged.json; " << plots << "\n";
  }
  if (!s.missing.empty()) {
    std::string list;
    for (std::size_t i = 0; i < s.missing.size() && i < 5; ++i) list += " " + s.missing[i];
    out << s.missing.size() << " job(s) have no results yet:" << list
        << (s.missing.size() > 5 ? " ..." : "") << " (run the sweep again to resume)\n";
    return 1;
  }
  return 0;
}

int cmd_merge(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  MergeOptions options;
  std::string dir;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--no-plot") {
      options.plot = false;
    } else if (args[i] == "--format") {
      if (i + 1 >= args.size()) throw InputError("--format needs a value (see --help)");
      options.format = args[++i];
      if (options.format != "table" && options.format != "csv" && options.format != "json") {
        throw InputError("--format must be table, csv or json, got '" + options.format + "'");
      }
    } else if (args[i].rfind("--", 0) == 0 || !dir.empty()) {
      throw InputError("unexpected argument '" + args[i] + "' (see pibooster merge --help)");
    } else {
      dir = args[i];
    }
  }
  if (dir.empty()) {
    err << kMergeHelp;
    return 2;
  }
  return merge_sweep(dir, options, out);
}

}  // namespace pib::app
