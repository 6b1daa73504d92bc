// SPDX-License-Identifier: MIT
// Hypervisor configuration: which Xen generation's rules and paths to follow.
#pragma once

#include <string_view>

#include "common/names.hpp"

namespace pib::xen {

// Generations differ where the spec (xen-pv-mmu.md) names count-changing differences.
enum class XenGeneration {
  kPaperEra,  // Xen 4.6-4.11: permissive L1 fast path, L2 puts synchronous, no mmu_update flush
  kModern,    // Xen 4.15-4.17: flag whitelist fast path, deferred L2-L4 puts, XSA-286 flush
};
// The release numbers are aliases of the generation they belong to.
inline constexpr auto kXenGenerationNames =
    make_names<XenGeneration>("Xen generation", {{XenGeneration::kPaperEra, "paper-era"},
                                                 {XenGeneration::kModern, "modern"},
                                                 {XenGeneration::kPaperEra, "4.8"},
                                                 {XenGeneration::kPaperEra, "4.11"},
                                                 {XenGeneration::kModern, "4.15"},
                                                 {XenGeneration::kModern, "4.17"}});
inline std::string_view name_of(XenGeneration g) {
  return kXenGenerationNames.name_of(g);
}
// InputError naming the valid generations when `name` is none of them.
inline XenGeneration xen_generation_by_name(std::string_view name) {
  return kXenGenerationNames.by_name(name);
}

// Xen's boot option iommu=[no-]superpages: whether the IOMMU driver merges a full, contiguous
// I/O page table into one superpage entry of the level above (and splits it again when one
// frame in it changes). "default" follows the generation: on in modern Xen (4.17 sets
// iommu_superpages by default), absent from paper-era Xen, which has no such code.
enum class IommuSuperpages { kDefault, kOn, kOff };
inline constexpr auto kIommuSuperpagesNames =
    make_names<IommuSuperpages>("IOMMU superpages", {{IommuSuperpages::kDefault, "default"},
                                                     {IommuSuperpages::kOn, "on"},
                                                     {IommuSuperpages::kOff, "off"},
                                                     {IommuSuperpages::kOn, "superpages"},
                                                     {IommuSuperpages::kOff, "no-superpages"}});
inline std::string_view name_of(IommuSuperpages s) {
  return kIommuSuperpagesNames.name_of(s);
}

struct XenParams {
  XenGeneration generation = XenGeneration::kPaperEra;
  bool pv_linear_pt = true;  // CONFIG_PV_LINEAR_PT / "pv-linear-pt" (default on)
  IommuSuperpages iommu_superpages = IommuSuperpages::kDefault;
};

// Whether this Xen merges I/O page tables into superpages (the option resolved).
inline bool iommu_superpages_on(const XenParams& p) {
  if (p.iommu_superpages == IommuSuperpages::kDefault) {
    return p.generation == XenGeneration::kModern;
  }
  return p.iommu_superpages == IommuSuperpages::kOn;
}

}  // namespace pib::xen
