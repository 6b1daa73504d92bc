// SPDX-License-Identifier: MIT
// Where a policy's saving comes from: the modeled time of an operation split into IOMMU work
// (I/O page-table updates, IOTLB invalidations and walks, device stalls), page allocation and
// zeroing (the page allocator, clearing and scanning pages, the page-table cache's own
// operations), page-table validation (validation and devalidation scans) and everything else.
#pragma once

#include <array>
#include <string_view>

#include "scenario/runner.hpp"

namespace pib::report {

enum class Part { kIommu, kAllocZero, kValidation, kOther };
inline constexpr std::size_t kPartCount = 4;
inline constexpr std::array<std::string_view, kPartCount> kPartNames = {
    "IOMMU", "allocation+zeroing", "validation", "other"};
inline constexpr std::array<std::string_view, kPartCount> kPartKeys = {"iommu", "alloc_zero",
                                                                       "validation", "other"};

Part part_of(sim::Event e);
// Modeled ns per operation in each part (all clocks together: the CPU time).
std::array<double, kPartCount> time_by_part(const scenario::PolicyResult& r,
                                            const cost::CostProfile& p);

}  // namespace pib::report
