// SPDX-License-Identifier: MIT
// The readable table of a run. By default a screenful: a heading (scenario, machine, profile
// with its overrides, configuration hash), the headline figures with their 90 % intervals
// beside the paper's, one row per policy (latency, both page-table metrics, IOTLB
// invalidations), the savings split, the cost rows that move the headline most, and where the
// files are. --verbose adds the detail: latency statistics, page-table work per span, where
// every nanosecond goes and every counter, with one column per policy and its ratio to the first.
#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <ostream>
#include <set>

#include "report/report.hpp"
#include "report/savings.hpp"

namespace pib::report {

namespace {

using scenario::PolicyResult;

std::string num(double v, int prec = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  return buf;
}

std::string ratio(double v, double base) {
  if (base == 0) return "-";
  const double r = v / base;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f (%+.1f%%)", r, (r - 1) * 100);
  return buf;
}

// The columns: a label, one value per policy, then each policy's ratio to the first. Each
// column is as wide as its heading needs, so long policy names never run together.
class Columns {
 public:
  Columns(std::ostream& out, const std::vector<PolicyResult>& results)
      : out_(out), results_(results) {
    for (const auto& r : results)
      wv_.push_back(std::max(12, static_cast<int>(r.policy.size()) + 2));
    for (std::size_t i = 1; i < results.size(); ++i) {
      wq_.push_back(
          std::max(18, static_cast<int>(results[i].policy.size() + results[0].policy.size()) + 3));
    }
  }

  void header(const std::string& title) const {
    out_ << std::left << std::setw(kLabel) << title;
    for (std::size_t i = 0; i < results_.size(); ++i) {
      out_ << std::right << std::setw(wv_[i]) << results_[i].policy;
    }
    for (std::size_t i = 1; i < results_.size(); ++i) {
      out_ << std::right << std::setw(wq_[i - 1])
           << (results_[i].policy + "/" + results_[0].policy);
    }
    out_ << "\n";
  }

  // `get` in ns, shown in us; `ratios` adds each policy's ratio to the first.
  template <typename Get>
  void row(const std::string& name, Get get, double scale = 1000.0, int prec = 2,
           bool ratios = true) const {
    out_ << std::left << std::setw(kLabel) << ("  " + name);
    for (std::size_t i = 0; i < results_.size(); ++i) {
      out_ << std::right << std::setw(wv_[i]) << num(get(results_[i]) / scale, prec);
    }
    for (std::size_t i = 1; ratios && i < results_.size(); ++i) {
      out_ << std::right << std::setw(wq_[i - 1]) << ratio(get(results_[i]), get(results_[0]));
    }
    out_ << "\n";
  }

 private:
  static constexpr int kLabel = 34;
  std::ostream& out_;
  const std::vector<PolicyResult>& results_;
  std::vector<int> wv_, wq_;
};

void write_heading(std::ostream& out, const scenario::RunOutput& run, const Options& options) {
  const auto& s = run.scenario;
  const auto& sys = s.system;
  out << s.name << " — " << s.description << "\n"
      << "  " << s.iterations << " x " << run.results.front().operation << " after " << s.warmup
      << " warm-up, seed " << sys.seed << "; " << sys.vcpus << " vCPU(s), " << s.memory_mib()
      << " MiB, IOMMU " << name_of(sys.iommu)
      << (sys.iommu_params.caching_mode ? " (caching mode)" : "") << ", Xen "
      << name_of(sys.xen_generation) << ", Linux " << name_of(sys.linux_generation) << ".x paths"
      << (sys.hz != 0 ? ", " + std::to_string(sys.hz) + " Hz tick" : "") << "\n"
      << "  profile " << run.profile.label() << "; config " << config_hash(run);
  if (!options.tool_version.empty()) out << "; pibooster " << options.tool_version;
  out << "\n";
}

double io_bytes(const PolicyResult& r) {
  return r.mean_count(sim::Event::kDevNicBytes) + r.mean_count(sim::Event::kDevDiskBytes);
}

void write_latency(const scenario::RunOutput& run, const Columns& cols, const Options& options) {
  const bool smp = run.scenario.system.vcpus > 1;
  cols.header(smp ? "modeled latency (us per op, busiest vCPU)" : "modeled latency (us per op)");
  cols.row("mean", [](const PolicyResult& r) { return r.latency.mean; });
  cols.row("median", [](const PolicyResult& r) { return r.latency.median; });
  cols.row("p99", [](const PolicyResult& r) { return r.latency.p99; });
  if (smp) cols.row("cpu time, all vCPUs", [](const PolicyResult& r) { return r.mean_cpu_ns; });
  const bool any_io = std::any_of(run.results.begin(), run.results.end(),
                                  [](const PolicyResult& r) { return io_bytes(r) > 0; });
  if (any_io) {
    // bytes per ns x 1000 = MB/s
    cols.row(
        "I/O throughput (MB/s)",
        [](const PolicyResult& r) {
          return r.latency.mean > 0 ? io_bytes(r) / r.latency.mean * 1000.0 : 0.0;
        },
        1.0, 1);
  }
  if (options.host_time) {
    cols.row("host time to simulate", [](const PolicyResult& r) { return r.host_ns_per_op; });
  }
}

const PolicyResult* find_policy(const scenario::RunOutput& run, const std::string& name) {
  for (const auto& r : run.results) {
    if (r.policy == name) return &r;
  }
  return nullptr;
}

double invalidations(const PolicyResult& r) {
  return r.mean_count(sim::Event::kHwIotlbInvPage) + r.mean_count(sim::Event::kHwIotlbInvDomain) +
         r.mean_count(sim::Event::kHwIotlbInvGlobal);
}

std::string pad(std::string s, std::size_t w) {
  // Width in characters, not bytes: "…" and "—" are one column each.
  std::size_t cols = 0;
  for (const unsigned char c : s) cols += (c & 0xC0) != 0x80;
  if (cols < w) s.append(w - cols, ' ');
  return s;
}

std::string pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f %%", v);
  return buf;
}

// The headline: each figure of the headline policy against the reference, with its interval,
// beside the paper's figure (the paper's line compares the rows "pibooster" and "baseline").
void write_headline(std::ostream& out, const scenario::RunOutput& run, const Uncertainty& u) {
  if (!u.headline) return;
  const PolicyChanges& pc = u.changes[*u.headline];
  const auto& paper = run.scenario.paper;
  const bool paper_pair = pc.policy == "pibooster" && u.reference == "baseline";
  out << "\n"
      << pad("headline, " + pc.policy + " vs " + u.reference, 40) << pad("model", 38)
      << (paper_pair && !paper.claim.empty() ? "paper" : "") << "\n";
  const std::string& op = run.results.front().operation;
  const auto line = [&](Figure f, const std::string& label, std::optional<double> paper_pct) {
    const auto& c = pc.figures[static_cast<std::size_t>(f)];
    if (!c) return;
    out << "  " << pad(label, 38) << pad(format_change(*c), 38);
    if (paper_pair && paper_pct) out << pct(*paper_pct);
    out << "\n";
  };
  line(Figure::kLatency, figure_label(Figure::kLatency, op), paper.latency_pct);
  line(Figure::kPtAllocFree, "page-table (de)allocation, per table", paper.pt_work_pct);
  line(Figure::kPtAll, "all page-table work, with pin/unpin", std::nullopt);
  line(Figure::kIoThroughput, figure_label(Figure::kIoThroughput, op), std::nullopt);
  const PolicyResult* ref = find_policy(run, u.reference);
  const PolicyResult* hp = find_policy(run, pc.policy);
  char buf[160];
  std::snprintf(buf, sizeof buf, "  %s%.2f -> %.2f", pad("IOTLB invalidations per op", 38).c_str(),
                invalidations(*ref), invalidations(*hp));
  out << buf << "\n";
  if (u.headline_figure == Figure::kIoThroughput) {
    for (const auto& t : u.tornado) {
      if (t.event != sim::Event::kHwIommuInvStall) continue;
      std::snprintf(buf, sizeof buf,
                    "  (I/O throughput rests on the assumed hw.iommu.inv_stall: %s at %.0f ns, %s "
                    "at %.0f ns)\n",
                    pct(t.at_low).c_str(), t.low_ns, pct(t.at_high).c_str(), t.high_ns);
      out << buf;
    }
  }
  if (pc.figures[static_cast<std::size_t>(Figure::kPtAllocFree)] && paper.pt_work_pct) {
    out << "  The per-table figure is the closer match to the paper's \"page-table (de)allocation"
           " time\":\n  that names the allocation and free paths the cache serves, timed per"
           " level; the\n  whole-tree pin/unpin at fork and exit happen outside them.\n";
  }
  if (!paper.claim.empty()) out << "  paper: " << paper.claim << "\n";
  if (u.clock) {
    out << "  (a clock runs: counts may depend on costs; the interval holds them at the nominal "
           "run's)\n";
  }
}

// One row per policy: latency (median and p99 only when some differ from the mean), its change
// with interval, both page-table metrics, IOTLB invalidations, I/O throughput when there is I/O.
void write_policies(std::ostream& out, const scenario::RunOutput& run, const Uncertainty& u) {
  const bool spread = std::any_of(run.results.begin(), run.results.end(), [](const auto& r) {
    return std::abs(r.latency.median - r.latency.mean) > 1e-6 * r.latency.mean ||
           std::abs(r.latency.p99 - r.latency.mean) > 1e-6 * r.latency.mean;
  });
  const bool any_io = std::any_of(run.results.begin(), run.results.end(),
                                  [](const PolicyResult& r) { return io_bytes(r) > 0; });
  std::size_t w = 8;
  for (const auto& r : run.results) w = std::max(w, r.policy.size() + 4);
  const bool smp = run.scenario.system.vcpus > 1;
  out << "\n" << pad(smp ? "us per op (busiest vCPU)" : "us per op", w) << pad("latency", 10);
  if (spread) out << pad("median", 10) << pad("p99", 10);
  out << pad("vs " + u.reference, 36) << pad("pt alloc/free", 15) << pad("pt all", 10)
      << pad("IOTLB inv", 10) << (any_io ? "MB/s" : "") << "\n";
  for (std::size_t i = 0; i < run.results.size(); ++i) {
    const PolicyResult& r = run.results[i];
    out << "  " << pad(r.policy, w - 2) << pad(num(r.latency.mean / 1000, 2), 10);
    if (spread) {
      out << pad(num(r.latency.median / 1000, 2), 10) << pad(num(r.latency.p99 / 1000, 2), 10);
    }
    std::string vs;
    if (i > 0) {
      const auto& c = u.changes[i - 1].figures[static_cast<std::size_t>(Figure::kLatency)];
      if (c) vs = format_change(*c);
    }
    out << pad(vs, 36) << pad(num(r.pt_alloc_free_ns(run.profile) / 1000, 2), 15)
        << pad(num(r.pt_work_ns(run.profile) / 1000, 2), 10) << pad(num(invalidations(r), 2), 10);
    if (any_io && r.latency.mean > 0) out << num(io_bytes(r) / r.latency.mean * 1000.0, 1);
    out << "\n";
  }
  out << "  (pt alloc/free: the per-table allocation and free spans; pt all: also the whole-tree"
         " pin/unpin)\n";
}

// What each policy saves against the reference, split by where the work is.
void write_savings(std::ostream& out, const scenario::RunOutput& run) {
  if (run.results.size() < 2) return;
  const auto base = time_by_part(run.results.front(), run.profile);
  std::size_t w = 8;
  for (const auto& r : run.results) w = std::max(w, r.policy.size() + 4);
  out << "\n" << pad("saved vs " + run.results.front().policy + " (us per op)", w + 4);
  for (const auto n : kPartNames) out << pad(std::string(n), 20);
  out << "total\n";
  for (std::size_t i = 1; i < run.results.size(); ++i) {
    const auto t = time_by_part(run.results[i], run.profile);
    out << "  " << pad(run.results[i].policy, w + 2);
    double total = 0;
    for (std::size_t p = 0; p < kPartCount; ++p) {
      out << pad(num((base[p] - t[p]) / 1000, 2), 20);
      total += base[p] - t[p];
    }
    out << num(total / 1000, 2) << "\n";
  }
}

// The cost rows that move the headline most, each at the ends of its range.
void write_tornado(std::ostream& out, const scenario::RunOutput& run, const Uncertainty& u,
                   std::size_t rows) {
  if (!u.headline || u.tornado.empty()) return;
  out << "\ncost rows that move the headline (" << u.changes[*u.headline].policy << " "
      << figure_label(u.headline_figure, run.results.front().operation)
      << ") most, each at its low and high end:\n";
  for (std::size_t i = 0; i < std::min(rows, u.tornado.size()); ++i) {
    const TornadoRow& t = u.tornado[i];
    const std::string range = num(t.low_ns, t.low_ns < 10 ? 1 : 0) + " … " +
                              num(t.high_ns, t.high_ns < 10 ? 1 : 0) + " ns";
    out << "  " << pad(std::string(sim::event_name(t.event)), 32) << pad(range, 20) << pct(t.at_low)
        << " … " << pct(t.at_high) << "\n";
  }
  out << "  (intervals: 5th-95th percentile of " << u.draws
      << " draws of every cost over its range, seed " << u.seed << ")\n";
}

// Page-table operations: modeled time per instance of each kind of span that ran.
void write_spans(std::ostream& out, const scenario::RunOutput& run, const Columns& cols) {
  const auto ran = [&](sim::Span s) {
    return std::any_of(run.results.begin(), run.results.end(),
                       [&](const PolicyResult& r) { return r.span_per_op(s) > 0; });
  };
  if (std::none_of(sim::kSpanTable.begin(), sim::kSpanTable.end(),
                   [&](const auto& sp) { return ran(sp.span); })) {
    return;
  }
  out << "\n";
  cols.header("page-table work (us per instance)");
  for (const auto& sp : sim::kSpanTable) {
    if (!ran(sp.span)) continue;
    const std::string label =
        std::string(sp.name) + " (x" + num(run.results.front().span_per_op(sp.span), 1) + "/op)";
    cols.row(label, [&](const PolicyResult& r) { return r.span_ns(sp.span, run.profile); });
  }
  cols.row("all page-table work, per op",
           [&](const PolicyResult& r) { return r.pt_work_ns(run.profile); });
}

// Every work event that took time under any policy, most expensive first.
void write_breakdown(std::ostream& out, const scenario::RunOutput& run, const Columns& cols) {
  out << "\n";
  cols.header("where the time goes (us per op)");
  std::set<sim::Event> shown;
  std::vector<sim::Event> order;
  for (const auto& r : run.results) {
    for (const auto& b : cost::breakdown(r.total, run.profile)) {
      if (shown.insert(b.event).second) order.push_back(b.event);
    }
  }
  for (const sim::Event e : order) {
    cols.row(std::string(sim::event_name(e)),
             [&](const PolicyResult& r) { return r.mean_ns(e, run.profile); });
  }
}

// Every counter that moved under any policy, its mean per operation.
void write_counters(std::ostream& out, const scenario::RunOutput& run, const Columns& cols) {
  out << "\n";
  cols.header("counters (mean per op)");
  for (const auto& info : sim::kEventTable) {
    const bool moved = std::any_of(
        run.results.begin(), run.results.end(),
        [&](const PolicyResult& r) { return r.total[static_cast<std::size_t>(info.event)] != 0; });
    if (!moved) continue;
    cols.row(
        std::string(info.name), [&](const PolicyResult& r) { return r.mean_count(info.event); },
        1.0, 2, /*ratios=*/false);
  }
}

void write_cache_held(std::ostream& out, const scenario::RunOutput& run) {
  for (const auto& r : run.results) {
    if (r.ptcache_held.empty()) continue;
    out << "\npage-table cache of " << r.policy << ", pages held at the end:";
    for (const auto& [level, n] : r.ptcache_held) out << " " << level << " " << n;
    out << "\n";
  }
}

void write_endnotes(std::ostream& out, const scenario::RunOutput& run) {
  for (const auto& r : run.results) {
    if (!r.audit.empty()) {
      out << "\nWARNING: hypervisor audit of " << r.policy << " failed: " << r.audit.front()
          << "\n";
    }
  }
}

}  // namespace

void write_table(std::ostream& out, const scenario::RunOutput& run, const Options& options) {
  const Uncertainty computed = options.uncertainty != nullptr ? Uncertainty{} : analyse(run);
  const Uncertainty& u = options.uncertainty != nullptr ? *options.uncertainty : computed;
  write_heading(out, run, options);
  write_headline(out, run, u);
  write_policies(out, run, u);
  write_savings(out, run);
  write_tornado(out, run, u, options.verbose ? u.tornado.size() : 5);
  if (options.verbose) {
    const Columns cols(out, run.results);
    out << "\n";
    write_latency(run, cols, options);
    write_spans(out, run, cols);
    write_breakdown(out, run, cols);
    write_counters(out, run, cols);
    write_cache_held(out, run);
  }
  write_endnotes(out, run);
  if (!options.files.empty()) out << "\n" << options.files << "\n";
}

}  // namespace pib::report
