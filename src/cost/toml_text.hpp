// SPDX-License-Identifier: MIT
// Writing TOML text (the resolved profile and scenario files): a basic string, quoted.
#pragma once

#include <string>

namespace pib::cost {

inline std::string toml_quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace pib::cost
