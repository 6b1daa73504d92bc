// SPDX-License-Identifier: MIT
// The readable table of a run: a heading, then one section per job — latency (and I/O
// throughput), the paper's figure beside the model's, page-table work per span, where the time
// goes, every counter — each with one column per policy and its ratio to the first.
#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <ostream>
#include <set>

#include "report/report.hpp"

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

void write_heading(std::ostream& out, const scenario::RunOutput& run) {
  const auto& s = run.scenario;
  out << "scenario  " << s.name << " — " << s.description << "\n"
      << "          " << s.iterations << " x " << run.results.front().operation << " after "
      << s.warmup << " warm-up, seed " << s.system.seed << ", " << s.system.vcpus << " vCPU(s), "
      << s.memory_mib() << " MiB, Xen " << name_of(s.system.xen_generation) << ", Linux "
      << name_of(s.system.linux_generation) << ".x"
      << " paths\n"
      << "profile   " << run.profile.name() << " (" << run.profile.origin() << ")\n\n";
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

// The paper's figure beside the model's (PiBooster vs baseline on this profile).
void write_paper(std::ostream& out, const scenario::RunOutput& run) {
  const auto& paper = run.scenario.paper;
  if (paper.claim.empty()) return;
  const PolicyResult* base = nullptr;
  const PolicyResult* pb = nullptr;
  for (const auto& r : run.results) {
    if (r.policy == "baseline") base = &r;
    if (r.policy == "pibooster") pb = &r;
  }
  out << "\npaper: " << paper.claim << "\n";
  if (base == nullptr || pb == nullptr) return;
  auto pct = [](double a, double b) { return b == 0 ? 0.0 : (a / b - 1) * 100; };
  char line[200];
  if (paper.latency_pct) {
    std::snprintf(line, sizeof line,
                  "  mean latency, pibooster vs baseline: model %+.1f%%, paper %+.1f%%\n",
                  pct(pb->latency.mean, base->latency.mean), *paper.latency_pct);
    out << line;
  }
  if (paper.pt_work_pct) {
    std::snprintf(line, sizeof line,
                  "  page-table (de)allocation work, pibooster vs baseline: model %+.1f%%, "
                  "paper %+.1f%%\n",
                  pct(pb->pt_work_ns(run.profile), base->pt_work_ns(run.profile)),
                  *paper.pt_work_pct);
    out << line;
  }
  const auto inv = [](const PolicyResult& r) {
    return r.mean_count(sim::Event::kHwIotlbInvPage) + r.mean_count(sim::Event::kHwIotlbInvDomain) +
           r.mean_count(sim::Event::kHwIotlbInvGlobal);
  };
  std::snprintf(line, sizeof line, "  IOTLB invalidations per op: baseline %.2f, pibooster %.2f\n",
                inv(*base), inv(*pb));
  out << line;
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

// The most expensive work events of any policy.
void write_breakdown(std::ostream& out, const scenario::RunOutput& run, const Columns& cols,
                     const Options& options) {
  out << "\n";
  cols.header("where the time goes (us per op)");
  std::set<sim::Event> shown;
  std::vector<sim::Event> order;
  for (const auto& r : run.results) {
    for (const auto& b : cost::breakdown(r.total, run.profile)) {
      if (order.size() >= options.breakdown_rows) break;
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

void write_endnotes(std::ostream& out, const scenario::RunOutput& run) {
  for (const auto& r : run.results) {
    if (r.ptcache_held.empty()) continue;
    out << "\npage-table cache of " << r.policy << ", pages held at the end:";
    for (const auto& [level, n] : r.ptcache_held) out << " " << level << " " << n;
    out << "\n";
  }
  for (const auto& r : run.results) {
    if (!r.audit.empty()) {
      out << "\nWARNING: hypervisor audit of " << r.policy << " failed: " << r.audit.front()
          << "\n";
    }
  }
}

}  // namespace

void write_table(std::ostream& out, const scenario::RunOutput& run, const Options& options) {
  const Columns cols(out, run.results);
  write_heading(out, run);
  write_latency(run, cols, options);
  write_paper(out, run);
  write_spans(out, run, cols);
  write_breakdown(out, run, cols, options);
  write_counters(out, run, cols);
  write_endnotes(out, run);
}

}  // namespace pib::report
