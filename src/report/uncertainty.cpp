// SPDX-License-Identifier: MIT
#include "report/uncertainty.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace pib::report {

namespace {

using scenario::PolicyResult;

double io_bytes(const PolicyResult& r) {
  return r.mean_count(sim::Event::kDevNicBytes) + r.mean_count(sim::Event::kDevDiskBytes);
}

// One figure of one policy under costs `c`; nullopt where it is not defined.
std::optional<double> figure(const PolicyResult& r, Figure f, const cost::UnitCosts& c) {
  switch (f) {
    case Figure::kLatency:
      return r.mean_latency_ns(c);
    case Figure::kPtAllocFree:
      return r.pt_alloc_free_ns(c);
    case Figure::kPtAll:
      return r.pt_work_ns(c);
    case Figure::kIoThroughput: {
      const double lat = r.mean_latency_ns(c);
      if (io_bytes(r) <= 0 || lat <= 0) return std::nullopt;
      return io_bytes(r) / lat * 1000.0;  // bytes per ns x 1000 = MB/s
    }
  }
  return std::nullopt;
}

std::optional<double> change(const PolicyResult& r, const PolicyResult& ref, Figure f,
                             const cost::UnitCosts& c) {
  const auto a = figure(r, f, c);
  const auto b = figure(ref, f, c);
  if (!a || !b || *b == 0) return std::nullopt;
  return (*a / *b - 1) * 100;
}

constexpr std::array<Figure, kFigureCount> kFigures = {Figure::kLatency, Figure::kPtAllocFree,
                                                       Figure::kPtAll, Figure::kIoThroughput};

}  // namespace

const char* figure_key(Figure f) {
  switch (f) {
    case Figure::kLatency:
      return "latency";
    case Figure::kPtAllocFree:
      return "pt_alloc_free";
    case Figure::kPtAll:
      return "pt_all";
    case Figure::kIoThroughput:
      return "io_throughput";
  }
  return "?";
}

std::string figure_label(Figure f, const std::string& operation) {
  switch (f) {
    case Figure::kLatency:
      return operation + " latency";
    case Figure::kPtAllocFree:
      return "page-table (de)allocation";
    case Figure::kPtAll:
      return "all page-table work";
    case Figure::kIoThroughput:
      return "I/O throughput";
  }
  return "?";
}

Uncertainty analyse(const scenario::RunOutput& run, std::size_t draws) {
  Uncertainty u;
  u.draws = draws;
  u.seed = run.scenario.system.seed;
  u.clock = run.scenario.system.hz != 0;
  if (run.results.empty()) return u;
  const PolicyResult& ref = run.results.front();
  u.reference = ref.policy;
  const cost::UnitCosts nominal = cost::unit_costs(run.profile);

  // One stream of draws shared by every policy and figure: the changes are paired.
  std::vector<cost::UnitCosts> sample;
  sample.reserve(draws);
  cost::CostSampler sampler(run.profile, u.seed);
  for (std::size_t i = 0; i < draws; ++i) sample.push_back(sampler.next());

  for (std::size_t i = 1; i < run.results.size(); ++i) {
    const PolicyResult& r = run.results[i];
    PolicyChanges pc;
    pc.policy = r.policy;
    for (const Figure f : kFigures) {
      const auto at_nominal = change(r, ref, f, nominal);
      if (!at_nominal) continue;
      std::vector<double> v;
      v.reserve(draws);
      for (const auto& c : sample) v.push_back(change(r, ref, f, c).value_or(*at_nominal));
      std::sort(v.begin(), v.end());
      Change ch{*at_nominal, *at_nominal, *at_nominal};
      if (!v.empty()) {
        const double last = static_cast<double>(v.size() - 1);
        ch.p05 = v[static_cast<std::size_t>(std::floor(0.05 * last))];
        ch.p95 = v[static_cast<std::size_t>(std::ceil(0.95 * last))];
      }
      pc.figures[static_cast<std::size_t>(f)] = ch;
    }
    if (r.policy == "pibooster" && ref.policy == "baseline") u.headline = u.changes.size();
    u.changes.push_back(pc);
  }
  if (!u.headline && !u.changes.empty()) u.headline = 0;
  if (!u.headline) return u;

  const PolicyResult& hp = run.results[*u.headline + 1];
  u.headline_figure = io_bytes(ref) > 0 ? Figure::kIoThroughput : Figure::kLatency;
  for (const auto& e : sim::kEventTable) {
    if (e.cost != sim::Cost::kWork) continue;
    const cost::UnitCost& uc = run.profile.unit(e.event);
    const auto idx = static_cast<std::size_t>(e.event);
    if (!(uc.low < uc.high) || (ref.total[idx] == 0 && hp.total[idx] == 0)) continue;
    const auto lo =
        change(hp, ref, u.headline_figure, cost::with_row_at(run.profile, e.event, false));
    const auto hi =
        change(hp, ref, u.headline_figure, cost::with_row_at(run.profile, e.event, true));
    if (!lo || !hi || std::abs(*hi - *lo) < 1e-6) continue;
    u.tornado.push_back({e.event, uc.low, uc.high, *lo, *hi});
  }
  std::stable_sort(u.tornado.begin(), u.tornado.end(),
                   [](const TornadoRow& a, const TornadoRow& b) {
                     return std::abs(a.at_high - a.at_low) > std::abs(b.at_high - b.at_low);
                   });
  return u;
}

std::string format_change(const Change& c) {
  // The interval's ends in the order of the change's size, as "−11 … −24 %" reads.
  const double first = c.nominal < 0 ? c.p95 : c.p05;
  const double second = c.nominal < 0 ? c.p05 : c.p95;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%+.1f %% (90 %%: %+.1f … %+.1f %%)", c.nominal, first, second);
  return buf;
}

}  // namespace pib::report
