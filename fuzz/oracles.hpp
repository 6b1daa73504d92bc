// SPDX-License-Identifier: MIT
// The fuzz target's oracles (hypercall_case.hpp lists them): what is checked in one
// configuration after a step, and the rules of the differential comparisons between
// configurations, with the differences the spec allows. Left out of libFuzzer's coverage
// instrumentation (coverage-ignorelist.txt): their edges say which checks ran, not what the
// hypervisor did, and their scans were a large part of an instrumented execution.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "encoding.hpp"
#include "world.hpp"

namespace pib::fuzz {

// What a step may have changed, so what must be checked after it.
enum class Scope {
  kAll,   // Xen ran: every per-world oracle
  kTlbs,  // only the CPUs' TLBs changed (and the word a guest stored)
  kDma,   // a device access: only the IOTLB (and the word written), Xen takes no part
};

// What must be checked after `op` (`entered_xen`: the step entered the hypervisor).
Scope scope_of(const Op& op, bool entered_xen);
// The per-configuration oracles `scope` covers; empty when they hold, else the finding.
std::string check_world(World& w, Scope scope);
// Whether every audit also runs the full auditor and requires the incremental one's verdict
// to be the same (--check-incremental; a disagreement is a finding).
void verify_incremental_audit(bool on);

// Did the whole operation fail (so it should have changed nothing)?
bool refused_whole(const Op& op, const Outcome& o);
// Did a policy's configuration accept a request that Xen's own validation (`base`) refused?
bool accepted_what_was_refused(const Op& op, const Outcome& base, const Outcome& pol);
bool uses_pool(const Op& op);
bool any_rc(const Outcome& o, int64_t rc);
// An mmu_update (direct or in a multicall) whose page owner is not its page-table owner
// (`caller`'s tables unless foreigndom's high half names another domain's).
bool names_foreign_owner(const Op& op, DomId caller);
bool uses_superpage_marks(const Op& op);
// A memory_op that allocates frames (populate_physmap, increase_reservation), and one that
// allocates extents of more than one frame (an order above 0).
bool allocates_frames(const Op& op);
bool allocates_multi_frame_extents(const Op& op);
// The CPU TLB flushes Xen has executed in the configuration (locally or by IPI).
uint64_t cpu_flushes(const World& w);
// The frames every domain of the configuration holds, as (first MFN, count) runs.
std::vector<std::pair<uint64_t, uint64_t>> frames_held(const World& w);
// Whether two multicall outcomes first differ in an entry after the batch's first mmu_update.
bool after_first_mmu_update(const Op& op, const Outcome& a, const Outcome& b);

}  // namespace pib::fuzz
