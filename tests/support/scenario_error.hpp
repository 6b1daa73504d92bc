// SPDX-License-Identifier: MIT
// The message a scenario text is refused with ("" when it parses), for the parser's tests.
#pragma once

#include <string>

#include "common/error.hpp"
#include "scenario/scenario.hpp"

namespace pib::test {

inline std::string scenario_error(const std::string& text) {
  try {
    scenario::Scenario::parse(text, "s.toml");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace pib::test
