// SPDX-License-Identifier: MIT
#include "hw/pte.hpp"

#include <cstdio>

namespace pib::hw {

std::string describe_pte(Pte pte) {
  using namespace pte_bits;
  char buf[40];
  std::snprintf(buf, sizeof buf, "mfn %#llx", static_cast<unsigned long long>(pte.mfn().value));
  std::string s = buf;
  const struct {
    uint64_t bit;
    const char* name;
  } names[] = {{kPresent, "P"},  {kRw, "RW"},   {kUser, "US"}, {kPwt, "PWT"},  {kPcd, "PCD"},
               {kAccessed, "A"}, {kDirty, "D"}, {kPse, "PSE"}, {kGlobal, "G"}, {kNx, "NX"}};
  for (const auto& n : names) {
    if (pte.raw() & n.bit) {
      s += ' ';
      s += n.name;
    }
  }
  if (pte.raw() & (kAvailLow | kAvailHigh)) s += " AVAIL";
  return s;
}

}  // namespace pib::hw
