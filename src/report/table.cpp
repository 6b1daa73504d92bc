// SPDX-License-Identifier: MIT
#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <ostream>
#include <set>

#include "report/report.hpp"

namespace pib::report {

namespace {

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

}  // namespace

void write_table(std::ostream& out, const scenario::RunOutput& run, const Options& options) {
  const auto& s = run.scenario;
  const auto& results = run.results;
  out << "scenario  " << s.name << " — " << s.description << "\n"
      << "          " << s.iterations << " x " << results.front().operation << " after " << s.warmup
      << " warm-up, seed " << s.system.seed << ", " << s.system.vcpus << " vCPU(s), "
      << s.memory_mib() << " MiB, Xen " << name_of(s.system.xen_generation) << ", Linux "
      << name_of(s.system.linux_generation) << ".x"
      << " paths\n"
      << "profile   " << run.profile.name() << " (" << run.profile.origin() << ")\n\n";
  // Each column as wide as its heading needs, so long policy names never run together.
  const int w0 = 34;
  std::vector<int> wv, wq;
  for (const auto& r : results) wv.push_back(std::max(12, static_cast<int>(r.policy.size()) + 2));
  for (std::size_t i = 1; i < results.size(); ++i) {
    wq.push_back(
        std::max(18, static_cast<int>(results[i].policy.size() + results[0].policy.size()) + 3));
  }
  auto header = [&](const std::string& title) {
    out << std::left << std::setw(w0) << title;
    for (std::size_t i = 0; i < results.size(); ++i) {
      out << std::right << std::setw(wv[i]) << results[i].policy;
    }
    for (std::size_t i = 1; i < results.size(); ++i) {
      out << std::right << std::setw(wq[i - 1]) << (results[i].policy + "/" + results[0].policy);
    }
    out << "\n";
  };
  header(s.system.vcpus > 1 ? "modeled latency (us per op, busiest vCPU)"
                            : "modeled latency (us per op)");
  auto row = [&](const std::string& name, auto get) {
    out << std::left << std::setw(w0) << ("  " + name);
    for (std::size_t i = 0; i < results.size(); ++i) {
      out << std::right << std::setw(wv[i]) << num(get(results[i]) / 1000.0, 2);
    }
    for (std::size_t i = 1; i < results.size(); ++i) {
      out << std::right << std::setw(wq[i - 1]) << ratio(get(results[i]), get(results[0]));
    }
    out << "\n";
  };
  row("mean", [](const scenario::PolicyResult& r) { return r.latency.mean; });
  row("median", [](const scenario::PolicyResult& r) { return r.latency.median; });
  row("p99", [](const scenario::PolicyResult& r) { return r.latency.p99; });
  if (s.system.vcpus > 1) {
    row("cpu time, all vCPUs", [](const scenario::PolicyResult& r) { return r.mean_cpu_ns; });
  }
  auto io_bytes = [](const scenario::PolicyResult& r) {
    return r.mean_count(sim::Event::kDevNicBytes) + r.mean_count(sim::Event::kDevDiskBytes);
  };
  bool any_io = false;
  for (const auto& r : results) any_io = any_io || io_bytes(r) > 0;
  if (any_io) {
    // bytes per ns x 1000 = MB/s
    const auto tp = [&](const scenario::PolicyResult& r) {
      return r.latency.mean > 0 ? io_bytes(r) / r.latency.mean * 1000.0 : 0.0;
    };
    out << std::left << std::setw(w0) << "  I/O throughput (MB/s)";
    for (std::size_t i = 0; i < results.size(); ++i) {
      out << std::right << std::setw(wv[i]) << num(tp(results[i]), 1);
    }
    for (std::size_t i = 1; i < results.size(); ++i) {
      out << std::right << std::setw(wq[i - 1]) << ratio(tp(results[i]), tp(results[0]));
    }
    out << "\n";
  }
  if (options.host_time) {
    row("host time to simulate", [](const scenario::PolicyResult& r) { return r.host_ns_per_op; });
  }
  // The paper's figure beside the model's (PiBooster vs baseline on this profile).
  if (!s.paper.claim.empty()) {
    const scenario::PolicyResult* base = nullptr;
    const scenario::PolicyResult* pb = nullptr;
    for (const auto& r : results) {
      if (r.policy == "baseline") base = &r;
      if (r.policy == "pibooster") pb = &r;
    }
    out << "\npaper: " << s.paper.claim << "\n";
    if (base != nullptr && pb != nullptr) {
      auto pct = [](double a, double b) { return b == 0 ? 0.0 : (a / b - 1) * 100; };
      char line[200];
      if (s.paper.latency_pct) {
        std::snprintf(line, sizeof line,
                      "  mean latency, pibooster vs baseline: model %+.1f%%, paper %+.1f%%\n",
                      pct(pb->latency.mean, base->latency.mean), *s.paper.latency_pct);
        out << line;
      }
      if (s.paper.pt_work_pct) {
        std::snprintf(line, sizeof line,
                      "  page-table (de)allocation work, pibooster vs baseline: model %+.1f%%, "
                      "paper %+.1f%%\n",
                      pct(pb->pt_work_ns(run.profile), base->pt_work_ns(run.profile)),
                      *s.paper.pt_work_pct);
        out << line;
      }
      const auto inv = [](const scenario::PolicyResult& r) {
        return r.mean_count(sim::Event::kHwIotlbInvPage) +
               r.mean_count(sim::Event::kHwIotlbInvDomain) +
               r.mean_count(sim::Event::kHwIotlbInvGlobal);
      };
      std::snprintf(line, sizeof line,
                    "  IOTLB invalidations per op: baseline %.2f, pibooster %.2f\n", inv(*base),
                    inv(*pb));
      out << line;
    }
  }
  // Page-table operations: modeled time per instance of each kind of span.
  bool any_span = false;
  for (const auto& r : results) {
    for (const auto& sp : sim::kSpanTable) any_span = any_span || r.span_per_op(sp.span) > 0;
  }
  if (any_span) {
    out << "\n";
    header("page-table work (us per instance)");
    for (const auto& sp : sim::kSpanTable) {
      bool ran = false;
      for (const auto& r : results) ran = ran || r.span_per_op(sp.span) > 0;
      if (!ran) continue;
      const std::string label =
          std::string(sp.name) + " (x" + num(results.front().span_per_op(sp.span), 1) + "/op)";
      row(label, [&](const scenario::PolicyResult& r) { return r.span_ns(sp.span, run.profile); });
    }
    row("all page-table work, per op",
        [&](const scenario::PolicyResult& r) { return r.pt_work_ns(run.profile); });
  }
  // Breakdown: the most expensive work events of any policy.
  out << "\n";
  header("where the time goes (us per op)");
  std::set<sim::Event> shown;
  std::vector<sim::Event> order;
  for (const auto& r : results) {
    for (const auto& b : cost::breakdown(r.total, run.profile)) {
      if (order.size() >= options.breakdown_rows) break;
      if (shown.insert(b.event).second) order.push_back(b.event);
    }
  }
  for (const sim::Event e : order) {
    row(std::string(sim::event_name(e)),
        [&](const scenario::PolicyResult& r) { return r.mean_ns(e, run.profile); });
  }
  out << "\n";
  header("counters (mean per op)");
  for (const auto& info : sim::kEventTable) {
    bool any = false;
    for (const auto& r : results) any = any || r.total[static_cast<std::size_t>(info.event)] != 0;
    if (!any) continue;
    out << std::left << std::setw(w0) << ("  " + std::string(info.name));
    for (std::size_t i = 0; i < results.size(); ++i) {
      out << std::right << std::setw(wv[i]) << num(results[i].mean_count(info.event), 2);
    }
    out << "\n";
  }
  for (const auto& r : results) {
    if (r.ptcache_held.empty()) continue;
    out << "\npage-table cache of " << r.policy << ", pages held at the end:";
    for (const auto& [level, n] : r.ptcache_held) out << " " << level << " " << n;
    out << "\n";
  }
  for (const auto& r : results) {
    if (!r.audit.empty()) {
      out << "\nWARNING: hypervisor audit of " << r.policy << " failed: " << r.audit.front()
          << "\n";
    }
  }
}

}  // namespace pib::report
