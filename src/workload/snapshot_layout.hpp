// SPDX-License-Identifier: MIT
// Where a snapshot's mappings go when the process is rebuilt in the model. A snapshot records
// one concrete layout, drawn by the capturing kernel (with or without randomisation). Either it
// is kept as captured (the footprint checks compare against that very layout), or the model's
// kernel places what the kernel places — stack, mmap area, brk heap, vDSO, a PIE's load base —
// with its own randomize_va_space and seed, keeping the program image and the mappings' sizes
// and order (how the traced system, running with randomisation, laid the same program out).
#pragma once

#include <cstdint>
#include <vector>

#include "guest/aslr.hpp"
#include "snapshot/snapshot.hpp"

namespace pib::workload {

enum class SnapshotPlacement { kAsCaptured, kByModelKernel };

struct PlacedLayout {
  std::vector<snapshot::MapEntry> vmas;  // placed, sorted by address
  uint64_t stack_top = 0;                // 0: the kernel's unrandomised default
  uint64_t mmap_base = 0;
  // Where a captured address went (every page of a mapping moves with it).
  uint64_t translate(uint64_t captured_va) const;

  struct Move {
    uint64_t start, end;  // the captured mapping
    int64_t shift;
  };
  std::vector<Move> moves;
};

// The captured maps with the kernel's own special mappings as Linux 6.1 has them (one [vvar]).
std::vector<snapshot::MapEntry> merge_special_mappings(const std::vector<snapshot::MapEntry>& in);

PlacedLayout place_snapshot(const std::vector<snapshot::MapEntry>& captured,
                            guest::AddressSpaceRandomizer& aslr, SnapshotPlacement placement);

}  // namespace pib::workload
