// SPDX-License-Identifier: MIT
#include "sim/ledger.hpp"

namespace pib::sim {

std::array<uint64_t, kEventCount> Ledger::since(
    const std::array<uint64_t, kEventCount>& earlier) const {
  std::array<uint64_t, kEventCount> out{};
  for (std::size_t i = 0; i < kEventCount; ++i) out[i] = counts_[i] - earlier[i];
  return out;
}

}  // namespace pib::sim
