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

// L1 entries may also carry G; cache attributes (PWT, PCD, PAT) only for a domain that may
// use them (Domain::may_use_cache_attrs: I/O privilege or an assigned device).
constexpr uint64_t l1_disallow_mask(bool cache_attrs_allowed) {
  uint64_t mask = (kBaseDisallow & ~hw::pte_bits::kGlobal) | kPageGnttab;
  if (cache_attrs_allowed) mask &= ~(hw::pte_bits::kPwt | hw::pte_bits::kPcd | hw::pte_bits::kPat);
  return mask;
}

// Xen reads an entry's frame from bits 12-51 (its PADDR_MASK), not only from the bits the
// machine implements: bits 46-51 set name a frame far beyond RAM, which Xen refuses, rather
// than the frame the walker would reach with them masked off.
inline constexpr uint64_t kXenPaddrMask = ((uint64_t{1} << 52) - 1) & ~uint64_t{0xfff};
constexpr uint64_t xen_frame_number(hw::Pte e) {
  return (e.raw() & kXenPaddrMask) >> 12;
}
// All of bits 12-51 set: how Xen writes INVALID_MFN into an entry (refused as -EINVAL, not as
// an MMIO access without permission).
inline constexpr uint64_t kXenInvalidFrameNumber = kXenPaddrMask >> 12;

}  // namespace pib::xen
