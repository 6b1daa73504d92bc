// SPDX-License-Identifier: MIT
// Compiled as if it were a source of src/hw (pib_hw's flags and include root) by the
// layering.HardwareCannotSeeTheScenarioLayer test, which passes only if this fails because
// the scenario layer's header (one that exists) is not found: hw must not see the layers above.
#include "scenario/runner.hpp"

namespace pib::hw {

std::size_t probe_upward_include() {
  return scenario::builtin_scenarios().size();
}

}  // namespace pib::hw
