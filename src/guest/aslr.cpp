// SPDX-License-Identifier: MIT
#include "guest/aslr.hpp"

#include "common/types.hpp"
#include "guest/mm_types.hpp"

namespace pib::guest {

namespace {
constexpr uint64_t kStackRndBits = 22;                // STACK_RND_MASK 0x3fffff pages
constexpr uint64_t kMmapRndBits = 28;                 // mmap_rnd_bits default for x86-64
constexpr uint64_t kStackRlimit = 8ULL << 20;         // RLIMIT_STACK soft limit
constexpr uint64_t kStackGuardGap = 256 * kPageSize;  // stack_guard_gap
constexpr uint64_t kMinMmapGap = 128ULL << 20;
constexpr uint64_t kBrkRange = 32ULL << 20;
// ELF_ET_DYN_BASE: two thirds of the 47-bit user space, page-aligned.
constexpr uint64_t kEtDynBase = (kTaskSize / 3 * 2) & ~(kPageSize - 1);
}  // namespace

uint64_t AddressSpaceRandomizer::draw_pages(uint64_t bits) {
  return rng_() & ((uint64_t{1} << bits) - 1);
}

uint64_t AddressSpaceRandomizer::stack_top() {
  if (!randomizes()) return kTaskSize;
  return kTaskSize - (draw_pages(kStackRndBits) << kPageShift);
}

uint64_t AddressSpaceRandomizer::mmap_base() {
  // The gap below the stack covers its rlimit, the guard gap and, when the stack top is random,
  // the whole range it may have moved down by; at least 128 MiB.
  uint64_t gap = kStackRlimit + kStackGuardGap;
  if (randomizes()) gap += ((uint64_t{1} << kStackRndBits) - 1) << kPageShift;
  if (gap < kMinMmapGap) gap = kMinMmapGap;
  const uint64_t rnd = randomizes() ? draw_pages(kMmapRndBits) << kPageShift : 0;
  return (kTaskSize - gap - rnd) & ~(kPageSize - 1);
}

uint64_t AddressSpaceRandomizer::pie_base() {
  if (!randomizes()) return kEtDynBase;
  return kEtDynBase + (draw_pages(kMmapRndBits) << kPageShift);
}

uint64_t AddressSpaceRandomizer::brk_start(uint64_t brk) {
  if (level_ < 2) return brk;
  return brk + ((rng_() % (kBrkRange >> kPageShift)) << kPageShift);
}

uint64_t AddressSpaceRandomizer::align_stack_offset() {
  if (!randomizes()) return 0;
  return rng_() % 8192;
}

std::optional<uint64_t> AddressSpaceRandomizer::vdso_hint(uint64_t start_stack, uint64_t len) {
  if (!randomizes()) return std::nullopt;
  // Above the stack's initial pointer, at a random page of what is left of its 2 MiB region
  // (so the vDSO usually shares the stack top's L1 table).
  const uint64_t start = (start_stack + kPageSize - 1) & ~(kPageSize - 1);
  uint64_t end = (start + len + kPmdSize - 1) & ~(kPmdSize - 1);
  if (end >= kTaskSize) end = kTaskSize;
  end -= len;
  if (end <= start) return start;
  const uint64_t offset = rng_() % (((end - start) >> kPageShift) + 1);
  return start + (offset << kPageShift);
}

}  // namespace pib::guest
