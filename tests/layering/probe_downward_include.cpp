// SPDX-License-Identifier: MIT
// The control for probe_upward_include.cpp: compiled the same way (as a source of src/hw), the
// headers of hw and of the layers below it are found, so the probe fails for the reason it names.
#include "common/types.hpp"
#include "hw/tlb.hpp"
#include "sim/events.hpp"

namespace pib::hw {

int probe_downward_include() {
  return 0;
}

}  // namespace pib::hw
