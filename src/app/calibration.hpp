// SPDX-License-Identifier: MIT
// Calibration against this machine, and the check of it. The real operations of the native
// timing check each have a model counterpart: the same workload under the `native` policy.
// Some are used to fit the fixed costs no micro-benchmark isolates (fork, exec, exit, the
// per-PTE work of fork and exit, the fault path): each fitted row is what makes the model's
// time of its operation equal the measured one, given every other row. The others are
// predicted from the fitted profile and compared; nothing is tuned to them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "app/native_timing.hpp"
#include "cost/cost_profile.hpp"
#include "sim/events.hpp"

namespace pib::app {

struct CheckOp {
  std::string label;     // "fork+exit"
  std::string mode;      // pibooster-probe's
  int n;                 // operations per round
  int mib;               // area size for the probe (0: none)
  std::string workload;  // the model's
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<sim::Event> fits;  // rows this operation fits (empty: predicted)
};
const std::vector<CheckOp>& check_ops();

// The measurements of every check operation, in check_ops() order.
std::vector<Measured> measure_ops(const std::string& probe, int rounds);

// Mean event counts of one operation of `op` under the native policy (counts do not depend on
// costs: computed once, recombined with any profile).
struct ModelOp {
  std::vector<double> counts;  // per event
  double ns(const cost::CostProfile& p) const;
};
std::vector<ModelOp> model_ops();

// The fitted rows, given the measurements (median, low or high ends), from `profile`'s values
// (their ratios within one operation's rows are kept). `negative` names rows whose fit came out
// below zero (the model's other rows alone exceed the measurement) and were set to 0.
struct Fit {
  std::vector<std::pair<sim::Event, double>> rows;
  std::vector<std::string> negative;
};
Fit fit_rows(const cost::CostProfile& profile, const std::vector<ModelOp>& model,
             const std::vector<double>& measured_ns);

}  // namespace pib::app
