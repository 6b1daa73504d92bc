// SPDX-License-Identifier: MIT
// The fuzz target of the hypercall interface: one input is a compact binary encoding of a
// sequence of hypercalls (mmu_update, mmuext_op with the page-table pool commands,
// update_va_mapping, multicall), guest memory accesses, device DMA, mode switches and timer
// programming, run on a small PV domain built by the domain builder (docs/fuzzing.md gives the
// encoding). The sequence runs on every hypervisor configuration at once — both Xen generations,
// each with Xen's own validation and with every policy's hypervisor side — and after every step
// the oracles are checked:
//   - the invariant auditor (xen/audit.hpp) is clean in every configuration;
//   - the DMA adversary: the domain's device cannot write a validated page table or a frame
//     revoked from DMA, through the IOMMU and its IOTLB;
//   - no exception escapes the hypervisor (guest input is answered with error codes);
//   - generations agree on every result, except where the spec says they differ;
//   - every policy refuses whatever Xen's own validation refuses (same generation).
// The input's encoding is encoding.hpp, the configurations world.hpp, the oracles oracles.hpp.
// Called by the libFuzzer entry point (fuzz_entry.cpp) and the replay driver (replay_main.cpp).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <span>
#include <string>

namespace pib::fuzz {

struct CaseResult {
  std::string finding;  // empty: every oracle held
  uint64_t steps = 0;   // operations decoded and run
  // Steps for which the differential oracles still compared (before the configurations'
  // histories diverged in a way the spec allows).
  uint64_t generation_compared = 0;
  uint64_t policy_compared = 0;
  uint64_t digest = 0;  // of every configuration's final state, when asked for
};

struct CaseOptions {
  // One line per step: the decoded operation and every configuration's result (for reading a
  // finding).
  std::ostream* trace = nullptr;
  // Build the configurations for this input instead of copying the kept snapshot of its
  // header (world.hpp): the reference a restored copy is checked against.
  bool fresh = false;
  bool digest = false;  // fill CaseResult::digest
  // Run the full auditor beside the incremental one at every check: a different verdict is a
  // finding (the incremental auditor is what keeps a step cheap; this shows it is exact).
  bool verify_audit = false;
};

CaseResult run_hypercall_case(std::span<const uint8_t> input, const CaseOptions& options = {});

}  // namespace pib::fuzz
