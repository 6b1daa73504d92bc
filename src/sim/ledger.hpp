// SPDX-License-Identifier: MIT
// The ledger: count (and, once a cost model is attached, modeled time) per event kind.
// Every component charges the one Ledger of its simulation; nothing else advances counts.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "sim/events.hpp"

namespace pib::sim {

using Counts = std::array<uint64_t, kEventCount>;

class Ledger {
 public:
  // Charges go to the totals and to the CPU the work is attributed to (the vCPU whose code,
  // or whose hypercall, is running): each CPU's counts give that CPU's virtual clock.
  void charge(Event e, uint64_t n = 1) {
    counts_[static_cast<std::size_t>(e)] += n;
    per_cpu_[cpu_][static_cast<std::size_t>(e)] += n;
  }
  uint64_t count(Event e) const { return counts_[static_cast<std::size_t>(e)]; }
  const Counts& counts() const { return counts_; }
  void reset() {
    counts_.fill(0);
    for (auto& c : per_cpu_) c.fill(0);
  }
  void set_cpu(uint32_t cpu) {
    if (cpu >= per_cpu_.size()) per_cpu_.resize(cpu + 1, Counts{});
    cpu_ = cpu;
  }
  uint32_t cpu() const { return cpu_; }
  // Per-CPU counts (index = CPU), for per-vCPU clocks.
  const std::vector<Counts>& per_cpu() const { return per_cpu_; }
  std::vector<Counts> since_per_cpu(const std::vector<Counts>& earlier) const;

  // Counts accumulated since `earlier` was taken (for phases and per-operation breakdowns).
  std::array<uint64_t, kEventCount> since(const std::array<uint64_t, kEventCount>& earlier) const;

 private:
  Counts counts_{};
  std::vector<Counts> per_cpu_ = std::vector<Counts>(1);
  uint32_t cpu_ = 0;
};

}  // namespace pib::sim
