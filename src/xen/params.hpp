// SPDX-License-Identifier: MIT
// Hypervisor configuration: which Xen generation's rules and paths to follow.
#pragma once

#include <optional>
#include <string_view>

namespace pib::xen {

// Generations differ where the spec (xen-pv-mmu.md) names count-changing differences.
enum class XenGeneration {
  kPaperEra,  // Xen 4.6-4.11: permissive L1 fast path, L2 puts synchronous, no mmu_update flush
  kModern,    // Xen 4.15-4.17: flag whitelist fast path, deferred L2-L4 puts, XSA-286 flush
};
std::string_view generation_name(XenGeneration g);
std::optional<XenGeneration> generation_by_name(std::string_view name);

struct XenParams {
  XenGeneration generation = XenGeneration::kPaperEra;
  bool pv_linear_pt = true;  // CONFIG_PV_LINEAR_PT / "pv-linear-pt" (default on)
};

}  // namespace pib::xen
