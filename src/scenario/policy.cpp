// SPDX-License-Identifier: MIT
#include "scenario/policy.hpp"

#include "common/error.hpp"

namespace pib::scenario {

std::vector<PolicyInfo> policy_catalog() {
  return {
      {"baseline", "Xen PV guest with Linux's Xen paths (the system PiBooster improves on)"},
      {"native", "the same kernel on bare metal (no hypervisor): the reference"},
      {"no-iommu", "Xen PV as baseline, but the domain does not use the IOMMU (no DMA protection)"},
      {"pibooster", "Xen PV with PiBooster: the page-table cache and fine-grained validation"},
      {"pibooster-cache-only", "ablation: the guest's page-table cache, Xen unchanged"},
      {"pibooster-validation-only",
       "ablation: Xen's page-table pool interface, used per tree without a cache"},
  };
}

void apply_policy(const std::string& name, system::GuestSystemConfig& config) {
  if (name == "baseline") {
    config.pvops = system::PvOpsKind::kXen;
    return;
  }
  if (name == "native") {
    config.pvops = system::PvOpsKind::kNative;
    return;
  }
  using PB = system::GuestSystemConfig::PiBooster;
  if (name == "pibooster" || name == "pibooster-cache-only" ||
      name == "pibooster-validation-only") {
    config.pvops = system::PvOpsKind::kXen;
    config.pibooster = name == "pibooster"              ? PB::kFull
                       : name == "pibooster-cache-only" ? PB::kCacheOnly
                                                        : PB::kValidationOnly;
    return;
  }
  if (name == "no-iommu") {
    config.pvops = system::PvOpsKind::kXen;
    config.iommu = xen::IommuMode::kNone;
    return;
  }
  std::string valid;
  for (const auto& p : policy_catalog()) valid += (valid.empty() ? "" : ", ") + p.name;
  throw InputError("unknown policy '" + name + "' (valid: " + valid + ")");
}

}  // namespace pib::scenario
