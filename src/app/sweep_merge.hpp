// SPDX-License-Identifier: MIT
// `pibooster merge DIR`: the results of a sweep's jobs gathered into one table, in the order of
// the sweep's job list (DIR/sweep.json): merged.csv and merged.json (one row per job: its axis
// values, policy, latency, both page-table metrics, IOTLB invalidations, and the change against
// the sweep's first policy at the same axis values), and the sweep plot.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace pib::app {

extern const char* const kMergeHelp;

// The manifest `sweep` writes and `merge` reads.
inline constexpr const char* kSweepManifest = "sweep.json";

struct MergeOptions {
  bool plot = true;
  std::string format = "table";  // what to print: table, csv or json
};

// Merges DIR; 0 when every job had results, 1 when some had none yet (merged without them).
int merge_sweep(const std::string& dir, const MergeOptions& options, std::ostream& out);

int cmd_merge(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace pib::app
