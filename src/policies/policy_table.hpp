// SPDX-License-Identifier: MIT
// Policies: named ways to build the same system, compared on the same scenario, profile and
// seed. Each is one row of one table (policy_table.cpp): its name, a one-line description and
// how it configures the system — the platform (xen or native pv-ops), the IOMMU, and the
// research delta's implementations behind the seams (system/delta.hpp). Scenarios, `run`,
// `workload`, `policies` and the docs use these names.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "system/guest_system.hpp"

namespace pib::policies {

struct Policy {
  std::string_view name;
  std::string_view description;
  void (*configure)(system::GuestSystemConfig& config);
};

std::span<const Policy> policy_table();
// The row named `name`; InputError listing the valid names otherwise.
const Policy& find_policy(std::string_view name);
// Applies policy `name` to a system configuration (InputError for an unknown name).
void apply_policy(std::string_view name, system::GuestSystemConfig& config);

}  // namespace pib::policies
