// SPDX-License-Identifier: MIT
#include "report/savings.hpp"

namespace pib::report {

Part part_of(sim::Event e) {
  const std::string_view n = sim::event_name(e);
  if (n.starts_with("hw.iommu.") || n.starts_with("hw.iotlb.")) return Part::kIommu;
  if (n.starts_with("xen.validate.") || n.starts_with("xen.devalidate.")) return Part::kValidation;
  if (e == sim::Event::kHwMemZeroPage || e == sim::Event::kHwMemScanPage ||
      e == sim::Event::kGuestPageAlloc || e == sim::Event::kGuestPageFree ||
      e == sim::Event::kGuestPtCacheOp) {
    return Part::kAllocZero;
  }
  return Part::kOther;
}

std::array<double, kPartCount> time_by_part(const scenario::PolicyResult& r,
                                            const cost::CostProfile& p) {
  std::array<double, kPartCount> out{};
  for (const auto& e : sim::kEventTable) {
    if (e.cost != sim::Cost::kWork) continue;
    out[static_cast<std::size_t>(part_of(e.event))] += r.mean_ns(e.event, p);
  }
  return out;
}

}  // namespace pib::report
