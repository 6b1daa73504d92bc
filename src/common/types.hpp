// SPDX-License-Identifier: MIT
// Strong types for the numbers that PV code mixes up most often: machine frame numbers (Mfn),
// guest pseudo-physical frame numbers (Pfn), virtual addresses and machine addresses. A function
// taking an Mfn cannot be handed a Pfn by accident; conversions are explicit.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace pib {

inline constexpr uint64_t kPageShift = 12;
inline constexpr uint64_t kPageSize = uint64_t{1} << kPageShift;
inline constexpr uint64_t kEntriesPerTable = 512;
inline constexpr uint64_t kPagesPerMiB = (uint64_t{1} << 20) / kPageSize;
// CPU sets are 64-bit masks (a domain's dirty_cpumask, the ABI's vcpumask arguments).
inline constexpr uint32_t kMaxCpus = 64;

template <typename Tag>
struct StrongU64 {
  uint64_t value = 0;
  constexpr StrongU64() = default;
  constexpr explicit StrongU64(uint64_t v) : value(v) {}
  // NOLINTNEXTLINE(modernize-use-nullptr): a false positive on the defaulted comparison
  constexpr auto operator<=>(const StrongU64&) const = default;
};

struct MfnTag {};
struct PfnTag {};
struct VaddrTag {};
struct MaddrTag {};

// Machine frame number: index of a 4 KiB frame of host ("machine") memory.
using Mfn = StrongU64<MfnTag>;
// Guest pseudo-physical frame number: what the guest believes is its physical frame.
using Pfn = StrongU64<PfnTag>;
// Virtual address as seen by a CPU walking a page-table tree.
using Vaddr = StrongU64<VaddrTag>;
// Machine address (byte address in machine memory).
using Maddr = StrongU64<MaddrTag>;

// Address arithmetic, only where it means something: an address plus or minus a byte count is
// an address, two addresses differ by a byte count. Unsigned wrap-around is kept (the
// page-table walkers rely on it for "the top of the address space", as Linux's C does).
inline constexpr Vaddr operator+(Vaddr va, uint64_t bytes) {
  return Vaddr{va.value + bytes};
}
inline constexpr Vaddr operator-(Vaddr va, uint64_t bytes) {
  return Vaddr{va.value - bytes};
}
inline constexpr uint64_t operator-(Vaddr a, Vaddr b) {
  return a.value - b.value;
}
inline constexpr Vaddr& operator+=(Vaddr& va, uint64_t bytes) {
  va.value += bytes;
  return va;
}
inline constexpr Vaddr& operator-=(Vaddr& va, uint64_t bytes) {
  va.value -= bytes;
  return va;
}
// Round down to a multiple of `span` (a power of two).
inline constexpr Vaddr align_down(Vaddr va, uint64_t span) {
  return Vaddr{va.value & ~(span - 1)};
}

inline constexpr Maddr maddr_of(Mfn mfn, uint64_t offset = 0) {
  return Maddr{(mfn.value << kPageShift) + offset};
}
inline constexpr Mfn mfn_of(Maddr ma) {
  return Mfn{ma.value >> kPageShift};
}
inline constexpr uint64_t page_offset(uint64_t addr) {
  return addr & (kPageSize - 1);
}

inline constexpr Mfn kInvalidMfn{~uint64_t{0}};
inline constexpr Pfn kInvalidPfn{~uint64_t{0}};

using DomId = uint16_t;
using VcpuId = uint32_t;
using CpuId = uint32_t;

}  // namespace pib

template <typename Tag>
struct std::hash<pib::StrongU64<Tag>> {
  size_t operator()(const pib::StrongU64<Tag>& v) const noexcept {
    return std::hash<uint64_t>{}(v.value);
  }
};
