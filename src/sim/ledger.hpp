// SPDX-License-Identifier: MIT
// The ledger: count (and, once a cost model is attached, modeled time) per event kind.
// Every component charges the one Ledger of its simulation; nothing else advances counts.
#pragma once

#include <array>
#include <cstdint>

#include "sim/events.hpp"

namespace pib::sim {

class Ledger {
 public:
  void charge(Event e, uint64_t n = 1) { counts_[static_cast<std::size_t>(e)] += n; }
  uint64_t count(Event e) const { return counts_[static_cast<std::size_t>(e)]; }
  const std::array<uint64_t, kEventCount>& counts() const { return counts_; }
  void reset() { counts_.fill(0); }

  // Counts accumulated since `earlier` was taken (for phases and per-operation breakdowns).
  std::array<uint64_t, kEventCount> since(const std::array<uint64_t, kEventCount>& earlier) const;

 private:
  std::array<uint64_t, kEventCount> counts_{};
};

}  // namespace pib::sim
