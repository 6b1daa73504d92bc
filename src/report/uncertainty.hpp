// SPDX-License-Identifier: MIT
// How sure each headline figure is: every policy's change against the reference (the first
// policy) in latency, per-table page-table (de)allocation, all page-table work and I/O
// throughput, at the profile's nominal costs and over draws of every cost from its range (a
// 90 % interval), and a tornado of the cost rows that move the headline most (each at its low
// and high end, the others nominal). Counts are held fixed: they do not depend on costs unless
// a clock runs (then `clock` says so and the interval is approximate).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "scenario/runner.hpp"

namespace pib::report {

enum class Figure { kLatency, kPtAllocFree, kPtAll, kIoThroughput };
inline constexpr std::size_t kFigureCount = 4;
// "latency", "pt_alloc_free", "pt_all", "io_throughput": the JSON and CSV names.
const char* figure_key(Figure f);
// What it is, for tables: "fork+exit latency", "page-table (de)allocation"...
std::string figure_label(Figure f, const std::string& operation);

// A change in percent: at nominal costs, and the 5th and 95th percentile over the draws.
struct Change {
  double nominal = 0;
  double p05 = 0;
  double p95 = 0;
};

struct TornadoRow {
  sim::Event event;
  double low_ns = 0, high_ns = 0;  // the row's range
  double at_low = 0, at_high = 0;  // the headline change with the row at each end (%)
};

struct PolicyChanges {
  std::string policy;
  std::array<std::optional<Change>, kFigureCount> figures;  // empty: not defined (e.g. no I/O)
};

struct Uncertainty {
  std::size_t draws = 0;
  uint64_t seed = 0;
  bool clock = false;     // a clock ran: counts may depend on costs, the interval holds them fixed
  std::string reference;  // the first policy
  std::vector<PolicyChanges> changes;  // one per other policy, in run order
  // The headline: pibooster vs baseline when both ran, else the second policy vs the first;
  // its figure is I/O throughput when the workload moves data, else latency.
  std::optional<std::size_t> headline;  // index into `changes`
  Figure headline_figure = Figure::kLatency;
  std::vector<TornadoRow> tornado;  // every cost row that moves the headline, largest swing first
};

inline constexpr std::size_t kDefaultDraws = 1000;

Uncertainty analyse(const scenario::RunOutput& run, std::size_t draws = kDefaultDraws);

// "−16.6 % (90 %: −11.0 … −24.1 %)".
std::string format_change(const Change& c);

}  // namespace pib::report
