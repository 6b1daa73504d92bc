// SPDX-License-Identifier: MIT
#include "cost/uncertainty.hpp"

#include <cmath>

namespace pib::cost {

double modeled_ns(const Counts& counts, const UnitCosts& costs) {
  double total = 0;
  for (std::size_t e = 0; e < counts.size(); ++e) {
    if (counts[e] != 0) total += static_cast<double>(counts[e]) * costs[e];
  }
  return total;
}

CostSampler::CostSampler(const CostProfile& profile, uint64_t seed)
    : profile_(profile), state_(seed ^ 0x5851f42d4c957f2dULL) {}

double CostSampler::uniform01() {
  // splitmix64 (Steele, Lea, Flood 2014): one add and a mix per draw.
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

UnitCosts CostSampler::next() {
  UnitCosts out{};
  for (const auto& e : sim::kEventTable) {
    if (e.cost != sim::Cost::kWork) continue;
    const UnitCost& u = profile_.unit(e.event);
    const double x = uniform01();  // drawn for every row, so rows keep their streams
    double v = u.ns;
    if (u.dist == Dist::kUniform) v = u.low + x * (u.high - u.low);
    if (u.dist == Dist::kLogUniform) v = u.low * std::pow(u.high / u.low, x);
    out[static_cast<std::size_t>(e.event)] = v;
  }
  return out;
}

UnitCosts with_row_at(const CostProfile& profile, sim::Event e, bool high) {
  UnitCosts out = unit_costs(profile);
  const UnitCost& u = profile.unit(e);
  out[static_cast<std::size_t>(e)] = high ? u.high : u.low;
  return out;
}

}  // namespace pib::cost
