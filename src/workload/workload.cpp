// SPDX-License-Identifier: MIT
#include "workload/workload.hpp"

#include <algorithm>
#include <charconv>

#include "common/error.hpp"

namespace pib::workload {

uint64_t Params::u64(const std::string& key, uint64_t fallback, uint64_t max) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  uint64_t v = 0;
  const auto* end = it->second.data() + it->second.size();
  const auto [ptr, ec] = std::from_chars(it->second.data(), end, v);
  if (ec != std::errc() || ptr != end) {
    throw InputError("parameter " + key + "='" + it->second + "' is not a non-negative integer");
  }
  if (v > max) {
    throw InputError("parameter " + key + "=" + it->second + " is above its limit " +
                     std::to_string(max));
  }
  return v;
}

std::string Params::str(const std::string& key, const std::string& fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

void Params::check_known(const std::string& workload, const std::vector<std::string>& known) const {
  for (const auto& [k, v] : values_) {
    if (std::find(known.begin(), known.end(), k) != known.end()) continue;
    std::string valid;
    for (const auto& n : known) {
      if (!valid.empty()) valid += ", ";
      valid += n;
    }
    std::string msg = "workload " + workload;
    msg += " has no parameter '" + k + "' (valid: ";
    msg += valid.empty() ? std::string("none") : valid;
    msg += ")";
    throw InputError(msg);
  }
}

uint64_t RunResult::mean_x100(sim::Event e) const {
  if (samples.empty()) return 0;
  return total[static_cast<std::size_t>(e)] * 100 / samples.size();
}

RunResult run(system::GuestSystem& sys, Workload& w, const std::string& name, uint64_t iterations,
              uint64_t warmup, std::ostream* trace) {
  w.setup(sys);
  for (uint64_t i = 0; i < warmup; ++i) w.iteration(sys);
  RunResult r;
  r.workload = name;
  r.operation = w.operation();
  for (uint64_t i = 0; i < iterations; ++i) {
    const Counts before = sys.ledger().counts();
    const bool traced = trace != nullptr && i + 1 == iterations;
    if (traced) sys.trace_hypercalls(trace);
    w.iteration(sys);
    if (traced) sys.trace_hypercalls(nullptr);
    Counts d = sys.ledger().since(before);
    for (std::size_t e = 0; e < d.size(); ++e) r.total[e] += d[e];
    r.samples.push_back(d);
  }
  return r;
}

}  // namespace pib::workload
