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

// XSA-288 (inconsistent PV IOMMU discipline): fixed in 4.12 and backported to the 4.8-4.11
// stable branches. With the fix a PV domain's frame is in its IOMMU exactly while its type is
// writable: populating maps only by way of a writable type reference, giving a frame back does
// not unmap it, and its final put_page does (cleanup_page_mappings). "default" follows the
// generation: fixed in modern Xen, unfixed in paper-era Xen (4.8-4.11 as released);
// "backport" is a paper-era Xen from a patched stable release.
enum class Xsa288 { kDefault, kBackport };
inline constexpr auto kXsa288Names = make_names<Xsa288>(
    "XSA-288 fix", {{Xsa288::kDefault, "default"}, {Xsa288::kBackport, "backport"}});
inline std::string_view name_of(Xsa288 x) {
  return kXsa288Names.name_of(x);
}

struct XenParams {
  XenGeneration generation = XenGeneration::kPaperEra;
  bool pv_linear_pt = true;  // CONFIG_PV_LINEAR_PT / "pv-linear-pt" (default on)
  IommuSuperpages iommu_superpages = IommuSuperpages::kDefault;
  Xsa288 xsa288 = Xsa288::kDefault;
};

// Whether this Xen has XSA-288's fix (the option resolved).
inline bool xsa288_fixed(const XenParams& p) {
  return p.generation == XenGeneration::kModern || p.xsa288 == Xsa288::kBackport;
}

// Whether this Xen merges I/O page tables into superpages (the option resolved).
inline bool iommu_superpages_on(const XenParams& p) {
  if (p.iommu_superpages == IommuSuperpages::kDefault) {
    return p.generation == XenGeneration::kModern;
  }
  return p.iommu_superpages == IommuSuperpages::kOn;
}

}  // namespace pib::xen
