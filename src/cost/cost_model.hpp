// SPDX-License-Identifier: MIT
// Modeled time: counts x unit costs. Nothing else produces time, so every figure closes:
// an operation's latency is the sum of its breakdown rows, a run's total the sum of its
// operations'.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "cost/cost_profile.hpp"
#include "sim/events.hpp"

namespace pib::cost {

using Counts = std::array<uint64_t, sim::kEventCount>;

double modeled_ns(const Counts& counts, const CostProfile& profile);
// The profile's unit cost of every event (0 for tallies): what runs the CPUs' clocks.
std::array<double, sim::kEventCount> unit_costs(const CostProfile& profile);

struct BreakdownRow {
  sim::Event event;
  uint64_t count = 0;
  double ns = 0;
};
// Work events with a non-zero count, most expensive first (ties by table order).
std::vector<BreakdownRow> breakdown(const Counts& counts, const CostProfile& profile);

struct LatencyStats {
  double mean = 0;
  double median = 0;
  double p99 = 0;
  double min = 0;
  double max = 0;
};
// Over a set of per-operation latencies (nearest-rank percentiles).
LatencyStats latency_stats(std::vector<double> samples);

}  // namespace pib::cost
