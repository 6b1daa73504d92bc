// SPDX-License-Identifier: MIT
#include "scenario/policy.hpp"

#include "common/error.hpp"

namespace pib::scenario {

std::vector<PolicyInfo> policy_catalog() {
  return {
      {"baseline", "Xen PV guest with Linux's Xen paths (the system PiBooster improves on)"},
      {"native", "the same kernel on bare metal (no hypervisor): the reference"},
      {"no-iommu", "Xen PV as baseline, but the domain does not use the IOMMU (no DMA protection)"},
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
