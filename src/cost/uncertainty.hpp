// SPDX-License-Identifier: MIT
// The unit costs as uncertain quantities: a profile's nominal costs, draws of every cost over
// its range (each row independently, from its distribution), and one row moved to an end of
// its range with the others nominal (a tornado's bars). Counts never depend on costs when no
// clock runs, so any figure can be recomputed under a draw as counts x drawn costs.
#pragma once

#include <array>
#include <cstdint>

#include "cost/cost_model.hpp"
#include "cost/cost_profile.hpp"

namespace pib::cost {

using UnitCosts = std::array<double, sim::kEventCount>;

// Σ count x cost over the events (tallies cost 0).
double modeled_ns(const Counts& counts, const UnitCosts& costs);

// Draws of every work event's cost over its range. Deterministic for a seed: the generator
// is a fixed 64-bit one (splitmix64) and the mapping to a value is written out here, not left
// to the standard library's distributions (whose output differs between implementations).
class CostSampler {
 public:
  CostSampler(const CostProfile& profile, uint64_t seed);
  UnitCosts next();

 private:
  double uniform01();  // in [0, 1)
  const CostProfile& profile_;
  uint64_t state_;
};

// The profile's costs with `e` at the low (`high` false) or high end of its range.
UnitCosts with_row_at(const CostProfile& profile, sim::Event e, bool high);

}  // namespace pib::cost
