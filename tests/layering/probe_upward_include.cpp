// SPDX-License-Identifier: MIT
// Compiled as if it were a source of src/hw (pib_hw's flags and include root) by the
// layering.probe_upward_include test, which passes only if this fails because the scenario
// layer's header is not found: hw must not see the layers above it.
#include "scenario/policy.hpp"

namespace pib::hw {

std::size_t probe_upward_include() { return scenario::policy_catalog().size(); }

}  // namespace pib::hw
