// SPDX-License-Identifier: MIT
#include "cost/cost_model.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace pib::cost {

double modeled_ns(const Counts& counts, const CostProfile& profile) {
  double total = 0;
  for (const auto& e : sim::kEventTable) {
    total += static_cast<double>(counts[static_cast<std::size_t>(e.event)]) * profile.ns(e.event);
  }
  return total;
}

std::array<double, sim::kEventCount> unit_costs(const CostProfile& profile) {
  std::array<double, sim::kEventCount> out{};
  for (const auto& e : sim::kEventTable)
    out[static_cast<std::size_t>(e.event)] = profile.ns(e.event);
  return out;
}

std::vector<BreakdownRow> breakdown(const Counts& counts, const CostProfile& profile) {
  std::vector<BreakdownRow> rows;
  for (const auto& e : sim::kEventTable) {
    const uint64_t n = counts[static_cast<std::size_t>(e.event)];
    if (n == 0 || e.cost != sim::Cost::kWork) continue;
    rows.push_back({e.event, n, static_cast<double>(n) * profile.ns(e.event)});
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const BreakdownRow& a, const BreakdownRow& b) { return a.ns > b.ns; });
  return rows;
}

LatencyStats latency_stats(std::vector<double> samples) {
  LatencyStats s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  const auto rank = [&](double q) {
    const auto n = static_cast<double>(samples.size());
    const auto idx = static_cast<std::size_t>(std::max(1.0, std::ceil(q * n))) - 1;
    return samples[std::min(idx, samples.size() - 1)];
  };
  s.mean =
      std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
  s.median = rank(0.5);
  s.p99 = rank(0.99);
  s.min = samples.front();
  s.max = samples.back();
  return s;
}

}  // namespace pib::cost
