// SPDX-License-Identifier: MIT
// Address-space layout randomisation as Linux (x86-64, 4.x through 6.1) draws it at execve,
// under the randomize_va_space sysctl: 0 = off, 1 = stack, mmap base, vDSO and PIE base,
// 2 = also the brk heap (Linux's default). The ranges are Linux's: 22 bits of pages for the
// stack top, 28 for the mmap base and the PIE load base, 32 MiB for brk, and the vDSO just above
// the stack top inside the stack top's 2 MiB region. Draws come from a seeded generator, so a
// run is reproducible.
#pragma once

#include <cstdint>
#include <optional>
#include <random>

namespace pib::guest {

class AddressSpaceRandomizer {
 public:
  AddressSpaceRandomizer(int level, uint64_t seed) : level_(level), rng_(seed) {}

  int level() const { return level_; }
  bool randomizes() const { return level_ >= 1; }

  // The top of a new stack (randomize_stack_top).
  uint64_t stack_top();
  // The top of the mmap area (mmap_base): below the stack's rlimit, its random range and guard.
  uint64_t mmap_base();
  // Where a position-independent executable is loaded (ELF_ET_DYN_BASE plus the mmap draw).
  uint64_t pie_base();
  // Where the brk heap starts for an image ending at `brk` (arch_randomize_brk at level 2).
  uint64_t brk_start(uint64_t brk);
  // The address exec asks for the vvar+vDSO block of `len` bytes, given the initial stack
  // pointer (vdso_addr); nullopt when not randomising (the block then goes top-down).
  std::optional<uint64_t> vdso_hint(uint64_t start_stack, uint64_t len);
  // arch_align_stack's random offset below 8 KiB (0 when not randomising).
  uint64_t align_stack_offset();

 private:
  uint64_t draw_pages(uint64_t bits);  // a random page count below 2^bits

  int level_;
  std::mt19937_64 rng_;
};

}  // namespace pib::guest
