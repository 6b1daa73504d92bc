// SPDX-License-Identifier: MIT
// Flag masks Xen applies to 64-bit PV page-table entries (arch_init_memory's base_disallow_mask,
// the fast-path whitelist, and the L1 additions).
#pragma once

#include "hw/pte.hpp"

namespace pib::xen {

// Everything but P, RW, US, A, D, the AVAIL bits and NX is refused at every level.
inline constexpr uint64_t kBaseAllowed =
    hw::pte_bits::kPresent | hw::pte_bits::kRw | hw::pte_bits::kUser | hw::pte_bits::kAccessed |
    hw::pte_bits::kDirty | hw::pte_bits::kAvailLow | hw::pte_bits::kAvailHigh | hw::pte_bits::kNx;
inline constexpr uint64_t kBaseDisallow = hw::pte_bits::kAllFlags & ~kBaseAllowed;
// Bits that may change on an existing mapping without revalidating it.
inline constexpr uint64_t kFastPathWhitelist =
    hw::pte_bits::kNx | hw::pte_bits::kAvailHigh | hw::pte_bits::kAvailLow | hw::pte_bits::kGlobal |
    hw::pte_bits::kDirty | hw::pte_bits::kAccessed | hw::pte_bits::kUser;

// Grant-table mappings carry this bit; ordinary page-table updates may never set it.
inline constexpr uint64_t kPageGnttab = uint64_t{1} << 62;

// L1 entries may also carry G; cache attributes (PWT, PCD, PAT) need I/O privilege.
constexpr uint64_t l1_disallow_mask(bool privileged) {
  uint64_t mask = (kBaseDisallow & ~hw::pte_bits::kGlobal) | kPageGnttab;
  if (privileged) mask &= ~(hw::pte_bits::kPwt | hw::pte_bits::kPcd | hw::pte_bits::kPat);
  return mask;
}

}  // namespace pib::xen
