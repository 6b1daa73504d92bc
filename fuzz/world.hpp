// SPDX-License-Identifier: MIT
// The fuzz target's configurations: each is a machine and a hypervisor (one Xen generation with
// Xen's own validation or one policy's hypervisor side) on which the domain builder made the
// fuzzed domain and a second one; an input runs on all of one header's configurations at once.
//
// Building them was half of an execution, and it is the same for every input with the same
// header: each header's configurations are built once and kept, copied once into a working
// set, and the working set is put back to the kept state before every input (hw::Machine's and
// xen::Hypervisor's restore, which reuse the storage: copying and freeing six machines per input
// was a quarter of an execution). `fuzz.restore` checks that a restored set behaves as a fresh
// build on every corpus input.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "abi/start_info.hpp"
#include "common/dirty_frames.hpp"
#include "encoding.hpp"
#include "hw/machine.hpp"
#include "sim/ledger.hpp"
#include "xen/audit_incremental.hpp"
#include "xen/hypervisor.hpp"

namespace pib::fuzz {

struct World {
  std::string label;
  sim::Ledger ledger;
  hw::Machine machine;
  xen::Hypervisor xen;
  abi::StartInfo si;
  abi::StartInfo other;
  Mfn block = kInvalidMfn;  // the superpage-block shape's 2 MiB block (Decoder)
  // MFNs a decrease_reservation has named: a frame bitmap (common/dirty_frames.hpp), so that
  // restoring a world copies a few hundred bytes instead of rebuilding a tree of the builder's
  // given-back singles.
  DirtyFrames given_back;
  // The auditor after every step, re-checking what the step wrote (a copy starts afresh).
  xen::IncrementalAudit audit{xen};

  World(std::string name, xen::XenGeneration g, std::unique_ptr<xen::ValidationPolicy> policy,
        const Header& h);
  // A copy of `snapshot` in its current state, independent of it from then on.
  World(const World& snapshot);
  // Holds `snapshot`'s state again: the world this one was copied from, or another copy of it.
  void restore(const World& snapshot);
  World& operator=(const World&) = delete;
  ~World() = default;
};

// What the guest (or device) saw of one operation.
struct Outcome {
  int64_t rc = 0;
  uint32_t done = 0;
  std::vector<int64_t> sub;  // multicall entries' results
  uint64_t value = 0;        // loaded / DMA-read value
  bool operator==(const Outcome&) const = default;
};

// The result a paper-era configuration gives a device write into XSA-288's hole: a page table
// that was never writable is still DMA-writable there (xen-pv-mmu.md A3, as the auditor
// allows), so the write is not performed — it would corrupt a validated table, which is the
// advisory, not a model bug. Not an errno: no configuration can return it otherwise.
constexpr int64_t kXsa288Hole = 288;
// The result of a guest operation after Xen crashed the domain (a failed IOMMU update,
// domain_crash): its vCPUs never run again, so nothing is done. Devices still do DMA.
constexpr int64_t kDomainCrashed = 3;  // SHUTDOWN_crash; no errno is positive

// Runs one operation on one configuration.
Outcome execute(World& w, const Op& op);
// Whether a device write to `iova` falls into XSA-288's hole on this configuration.
bool in_xsa288_hole(const World& w, uint64_t iova);
std::string describe(const Outcome& o);
// A hash of everything the configuration holds that a later step could observe: counts and
// clocks, machine memory, the frame table, the domains, the CPUs' root tables and TLBs. Two
// configurations with the same digest behave alike (fuzz.restore compares copies with fresh
// builds by it).
uint64_t state_digest(const World& w);

// One differential pair: a reference configuration and one it is compared with.
struct Pair {
  std::size_t base = 0;
  std::size_t other = 0;
  bool generation = false;  // else a policy against Xen's own validation
  bool diverged = false;
};

// Every configuration of one header: both generations, each with Xen's validation and every
// distinct hypervisor side of the policy table, with the pairs the oracles compare.
struct Configurations {
  std::vector<std::unique_ptr<World>> worlds;
  std::vector<Pair> pairs;
  std::vector<std::size_t> bases;  // Xen's own validation, per generation
  std::string problem;             // set when they cannot be compared (different frames)
};

Configurations build_configurations(const Header& h);
// The configurations of header byte `header`, as built: the working set of that header, put
// back to its kept snapshot (both made on first use), or built afresh when `fresh`. Valid until
// the next call; the caller may run them and change their pairs.
Configurations& configurations_for(uint8_t header, bool fresh);

}  // namespace pib::fuzz
