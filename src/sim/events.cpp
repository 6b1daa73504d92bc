// SPDX-License-Identifier: MIT
#include "sim/events.hpp"

namespace pib::sim {

std::optional<Event> event_by_name(std::string_view name) {
  for (const auto& info : kEventTable) {
    if (info.name == name) return info.event;
  }
  return std::nullopt;
}

}  // namespace pib::sim
