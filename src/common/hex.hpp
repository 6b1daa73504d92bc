// SPDX-License-Identifier: MIT
// An address or flag word as text the way /proc and Xen print them: "0x" and lower-case hex.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>

namespace pib {

inline std::string hex(uint64_t v) {
  std::ostringstream o;
  o << "0x" << std::hex << v;
  return o.str();
}

}  // namespace pib
