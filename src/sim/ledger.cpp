// SPDX-License-Identifier: MIT
#include "sim/ledger.hpp"

namespace pib::sim {

std::array<uint64_t, kEventCount> Ledger::since(
    const std::array<uint64_t, kEventCount>& earlier) const {
  std::array<uint64_t, kEventCount> out{};
  for (std::size_t i = 0; i < kEventCount; ++i) out[i] = counts_[i] - earlier[i];
  return out;
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
