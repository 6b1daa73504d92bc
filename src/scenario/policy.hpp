// SPDX-License-Identifier: MIT
// Policies: named ways to run the same scenario, compared on the same profile and seed.
// A policy sets what the system is built with (which pv-ops; later PiBooster's mechanisms).
#pragma once

#include <string>
#include <vector>

#include "system/guest_system.hpp"

namespace pib::scenario {

struct PolicyInfo {
  std::string name;
  std::string description;
};

std::vector<PolicyInfo> policy_catalog();
// Applies policy `name` to a system configuration; InputError naming the valid ones otherwise.
void apply_policy(const std::string& name, system::GuestSystemConfig& config);

}  // namespace pib::scenario
