// SPDX-License-Identifier: MIT
// The x86-64 page-table entry format (4-level paging, 4 KiB tables of 512 8-byte entries), with
// every architectural bit. Pure value type; the meaning of the AVAIL bits is left to software.
#pragma once

#include <cstdint>
#include <string>

#include "common/types.hpp"

namespace pib::hw {

namespace pte_bits {
inline constexpr uint64_t kPresent = uint64_t{1} << 0;
inline constexpr uint64_t kRw = uint64_t{1} << 1;
inline constexpr uint64_t kUser = uint64_t{1} << 2;
inline constexpr uint64_t kPwt = uint64_t{1} << 3;
inline constexpr uint64_t kPcd = uint64_t{1} << 4;
inline constexpr uint64_t kAccessed = uint64_t{1} << 5;
inline constexpr uint64_t kDirty = uint64_t{1} << 6;
inline constexpr uint64_t kPse = uint64_t{1} << 7;  // L2/L3: large page; L4: reserved
inline constexpr uint64_t kPat = uint64_t{1} << 7;  // L1: PAT index bit (same position)
inline constexpr uint64_t kGlobal = uint64_t{1} << 8;
inline constexpr uint64_t kAvail0 = uint64_t{1} << 9;
inline constexpr uint64_t kAvail1 = uint64_t{1} << 10;
inline constexpr uint64_t kAvail2 = uint64_t{1} << 11;
inline constexpr uint64_t kAvailLow = kAvail0 | kAvail1 | kAvail2;
inline constexpr uint64_t kLargePat = uint64_t{1} << 12;  // PAT bit of a 2M/1G entry
// Bits 52..62 are ignored by the walker (software-available); 59..62 double as protection keys.
inline constexpr uint64_t kAvailHigh = uint64_t{0x7ff} << 52;
inline constexpr uint64_t kNx = uint64_t{1} << 63;
// The machine has 46 physical address bits (MAXPHYADDR); bits 46..51 are reserved.
inline constexpr unsigned kMaxPhysBits = 46;
inline constexpr uint64_t kAddrMask = ((uint64_t{1} << kMaxPhysBits) - 1) & ~uint64_t{0xfff};
inline constexpr uint64_t kReservedAddr =
    (((uint64_t{1} << 52) - 1) & ~((uint64_t{1} << kMaxPhysBits) - 1));
inline constexpr uint64_t kLowFlags = 0xfff;
inline constexpr uint64_t kAllFlags = kLowFlags | kAvailHigh | kNx;
}  // namespace pte_bits

class Pte {
 public:
  constexpr Pte() = default;
  constexpr explicit Pte(uint64_t raw) : raw_(raw) {}
  static constexpr Pte make(Mfn mfn, uint64_t flags) {
    return Pte{((mfn.value << kPageShift) & pte_bits::kAddrMask) | (flags & pte_bits::kAllFlags)};
  }

  constexpr uint64_t raw() const { return raw_; }
  constexpr bool present() const { return raw_ & pte_bits::kPresent; }
  constexpr bool has(uint64_t bits) const { return (raw_ & bits) == bits; }
  constexpr Mfn mfn() const { return Mfn{(raw_ & pte_bits::kAddrMask) >> kPageShift}; }
  constexpr uint64_t flags() const { return raw_ & pte_bits::kAllFlags; }
  constexpr Pte with(uint64_t bits) const { return Pte{raw_ | bits}; }
  constexpr Pte without(uint64_t bits) const { return Pte{raw_ & ~bits}; }
  constexpr bool operator==(const Pte&) const = default;

 private:
  uint64_t raw_ = 0;
};

// Level numbering follows Xen and the paper: 1 = L1 (PTE), 2 = L2 (PMD), 3 = L3 (PUD), 4 = L4.
inline constexpr unsigned kLevels = 4;
inline constexpr uint64_t table_index(Vaddr va, unsigned level) {
  return (va.value >> (kPageShift + uint64_t{9} * (level - 1))) & (kEntriesPerTable - 1);
}
// Bytes mapped by one entry of a table of `level`.
inline constexpr uint64_t span_of_entry(unsigned level) {
  return uint64_t{1} << (kPageShift + uint64_t{9} * (level - 1));
}
inline constexpr bool is_canonical(Vaddr va) {
  const uint64_t top = va.value >> 47;
  return top == 0 || top == 0x1ffff;
}
// Builds a canonical address from four table indices and an offset.
inline constexpr Vaddr make_vaddr(uint64_t l4, uint64_t l3, uint64_t l2, uint64_t l1,
                                  uint64_t offset = 0) {
  uint64_t v = (l4 << 39) | (l3 << 30) | (l2 << 21) | (l1 << 12) | offset;
  if (l4 & 0x100) v |= uint64_t{0xffff} << 48;
  return Vaddr{v};
}

std::string describe_pte(Pte pte);  // "mfn 0x12 P RW US A" — for traces and error messages

}  // namespace pib::hw
