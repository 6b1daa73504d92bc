// SPDX-License-Identifier: MIT
#include "sim/ledger.hpp"

namespace pib::sim {

std::array<uint64_t, kEventCount> Ledger::since(
    const std::array<uint64_t, kEventCount>& earlier) const {
  std::array<uint64_t, kEventCount> out{};
  for (std::size_t i = 0; i < kEventCount; ++i) out[i] = counts_[i] - earlier[i];
  return out;
}

void Ledger::set_clock(const std::array<double, kEventCount>& unit_ns, double scale) {
  for (std::size_t i = 0; i < kEventCount; ++i) unit_ns_[i] = unit_ns[i] * scale;
  clock_on_ = true;
}

void Ledger::end_span() {
  if (open_spans_.empty()) return;            // unbalanced: nothing to close
  const OpenSpan& open = open_spans_.back();  // read in place: a copy is a whole Counts
  Counts& acc = span_counts_[static_cast<std::size_t>(open.span)];
  for (std::size_t i = 0; i < kEventCount; ++i) acc[i] += counts_[i] - open.at_begin[i];
  if (open.counts_instance) span_instances_[static_cast<std::size_t>(open.span)]++;
  open_spans_.pop_back();
}

std::vector<Counts> Ledger::since_per_cpu(const std::vector<Counts>& earlier) const {
  std::vector<Counts> out(per_cpu_.size(), Counts{});
  for (std::size_t c = 0; c < per_cpu_.size(); ++c) {
    for (std::size_t i = 0; i < kEventCount; ++i) {
      out[c][i] = per_cpu_[c][i] - (c < earlier.size() ? earlier[c][i] : 0);
    }
  }
  return out;
}

}  // namespace pib::sim
