// SPDX-License-Identifier: MIT
#include "hypercall_case.hpp"

#include <malloc.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "encoding.hpp"
#include "oracles.hpp"
#include "world.hpp"

namespace pib::fuzz {

namespace {

using abi::err::kEINVAL;
using abi::err::kENOMEM;
using abi::err::kENOSYS;
using abi::err::kEOPNOTSUPP;

constexpr std::size_t kMaxSteps = 256;

}  // namespace

// Every case copies six small machines and frees them again. glibc would give the freed
// heap top and its large blocks back to the kernel each time and fault them in again for the
// next case, which took two thirds of the time: keep them (sanitizer builds bring their own
// allocator, which ignores this).
namespace {
void keep_freed_memory() {
  static const bool once = [] {
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest
    return true;
  }();
  (void)once;
}
}  // namespace

CaseResult run_hypercall_case(std::span<const uint8_t> input, const CaseOptions& options) {
  std::ostream* const trace = options.trace;
  verify_incremental_audit(options.verify_audit);
  keep_freed_memory();
  CaseResult result;
  if (input.empty()) return result;
  const Header header(input[0]);
  Reader in(input.subspan(1));

  Configurations& configs = configurations_for(input[0], options.fresh);
  if (!configs.problem.empty()) {
    result.finding = configs.problem;
    return result;
  }
  std::vector<std::unique_ptr<World>>& worlds = configs.worlds;
  std::vector<Pair>& pairs = configs.pairs;
  const std::vector<std::size_t>& bases = configs.bases;

  Decoder decode(in, worlds[0]->xen, worlds[0]->si, worlds[0]->other, header.vcpus,
                 worlds[0]->block);
  std::vector<bool> unchecked(worlds.size(), false);  // refused steps since the last check
  std::vector<Outcome> outcomes(worlds.size());
  std::vector<uint64_t> fast_before(worlds.size());
  std::vector<uint64_t> xsa286_before(worlds.size());
  std::vector<uint64_t> leaked_before(worlds.size());
  std::vector<uint64_t> io_tables_before(worlds.size());
  std::vector<uint64_t> cpu_flushes_before(worlds.size());
  for (std::size_t step = 0; !in.done() && step < kMaxSteps; ++step) {
    const Op op = decode.next();
    ++result.steps;
    auto fail = [&](const std::string& what) {
      result.finding = "step " + std::to_string(step) + ": " + what;
      return result;
    };
    if (trace != nullptr) *trace << "step " << step << ": " << describe(op) << "\n";
    // The generations' IOMMU mapping disciplines differ for frames that never had a writable
    // type (paper-era maps every frame at populate time, modern only writable ones; A3) and for
    // frames given back (paper-era unmaps at decrease_reservation whatever the type, modern at
    // the last put_page of a writable frame, cleanup_page_mappings).
    bool dma_discipline_differs = false;
    if (op.kind == Kind::kDmaWrite || op.kind == Kind::kDmaRead) {
      const auto& ft = worlds[bases[0]]->xen.frame_table();
      const Mfn m{op.iova >> kPageShift};
      dma_discipline_differs =
          (ft.valid(m) && !ft[m].ever_writable) || worlds[bases[0]]->given_back.marked(m.value);
    }
    for (std::size_t i = 0; i < worlds.size(); ++i) {
      World& w = *worlds[i];
      fast_before[i] = w.ledger.count(sim::Event::kXenModEntryFast);
      xsa286_before[i] = w.ledger.count(sim::Event::kXenTlbFlushMmuUpdate);
      leaked_before[i] = w.ledger.count(sim::Event::kXenRefLeaked);
      io_tables_before[i] = w.ledger.count(sim::Event::kHwIommuPtAlloc);
      cpu_flushes_before[i] = cpu_flushes(w);
      const uint64_t entries_before = w.ledger.count(sim::Event::kXenEntry);
      try {
        outcomes[i] = execute(w, op);
      } catch (const std::exception& e) {
        return fail(w.label + ": exception escaped the hypervisor: " + e.what());
      }
      if (trace != nullptr) *trace << "  " << w.label << ": " << describe(outcomes[i]) << "\n";
      // A step refused whole is checked with the next one checked: whatever it wrongly changed
      // is still there then (the auditor is a third of a step's time).
      // What an earlier refused step was not checked for is checked in full now.
      const Scope scope =
          unchecked[i] ? Scope::kAll
                       : scope_of(op, w.ledger.count(sim::Event::kXenEntry) != entries_before);
      unchecked[i] = refused_whole(op, outcomes[i]);
      if (unchecked[i]) continue;
      if (const std::string found = check_world(w, scope); !found.empty()) return fail(found);
    }
    for (Pair& p : pairs) {
      if (p.diverged) continue;
      const Outcome& a = outcomes[p.base];
      const Outcome& b = outcomes[p.other];
      const World& wa = *worlds[p.base];
      const World& wb = *worlds[p.other];
      const bool paths_differ =
          wa.ledger.count(sim::Event::kXenModEntryFast) - fast_before[p.base] !=
          wb.ledger.count(sim::Event::kXenModEntryFast) - fast_before[p.other];
      const bool flushed_xsa286 =
          wb.ledger.count(sim::Event::kXenTlbFlushMmuUpdate) != xsa286_before[p.other];
      (p.generation ? result.generation_compared : result.policy_compared) += 1;
      // Xen crashed a configuration's domain (an IOMMU update failed for want of memory, which
      // both oracles allow): it does nothing from then on, while the other may go on.
      if (a.rc == kDomainCrashed || b.rc == kDomainCrashed) {
        if (!(a == b)) p.diverged = true;
        continue;
      }
      if (!(a == b)) {
        const std::string both = wa.label + " " + describe(a) + ", " + wb.label + " " + describe(b);
        if (p.generation) {
          // Spec'd differences: paper-era Xen carries on when an IOMMU update fails (modern
          // fails the type change), its L1 fast path is permissive, it leaves never-writable
          // page tables DMA-writable (XSA-288) and maps never-writable frames for DMA, and
          // modern Xen refuses the superpage marks and L2-L4 updates naming a foreign owner. An
          // extent of several frames comes from the top of the model's free stack only, and
          // the generations' I/O tables took different frames from it (modern Xen merges I/O
          // superpages and frees their tables; paper-era maps every frame and keeps its
          // tables), so one may find such an extent where the other finds none.
          const bool allowed = any_rc(a, kENOMEM) || any_rc(b, kENOMEM) || paths_differ ||
                               a.rc == kXsa288Hole || dma_discipline_differs ||
                               (uses_superpage_marks(op) && any_rc(b, kEOPNOTSUPP)) ||
                               allocates_multi_frame_extents(op) ||
                               (flushed_xsa286 && after_first_mmu_update(op, a, b)) ||
                               (names_foreign_owner(op, worlds[0]->si.domid) && any_rc(b, kEINVAL));
          if (!allowed) return fail("generations disagree: " + both);
        } else if (accepted_what_was_refused(op, a, b)) {
          // A policy may accept its own pool commands (Xen: -ENOSYS) and what Xen refused only
          // for want of memory for an I/O page table.
          const bool allowed = (uses_pool(op) && any_rc(a, kENOSYS)) || any_rc(a, kENOMEM);
          if (!allowed) return fail("policy accepted what Xen's validation refused: " + both);
        }
        p.diverged = true;  // the histories differ from here on: stop comparing this pair
      } else if (paths_differ) {
        p.diverged = true;
      }
      // Modern Xen flushed the TLBs after an L2-L4 change (XSA-286); paper-era left that to the
      // guest, so from here the CPUs may hold translations one generation dropped.
      if (p.generation && flushed_xsa286) p.diverged = true;
      // Modern Xen refused an L2-L4 update naming a foreign owner before touching anything;
      // paper-era Xen went on as the caller and may have changed state (a child's type, its
      // IOMMU mapping) before refusing for another reason, with the same error.
      if (p.generation && names_foreign_owner(op, worlds[0]->si.domid) && any_rc(b, kEINVAL))
        p.diverged = true;
      // A generation leaked a reference (Xen 4.17's leaks, xen.ref_leaked). The generations
      // leak on different paths (modern Xen defers a failed L2 validation's teardown to
      // old_guest_table, paper-era undoes it inline), so even with as many leaks the frames
      // involved may be stuck in different states (a partial L2 in one, an untyped frame with
      // an extra reference in the other) from here on.
      const bool leaked = wa.ledger.count(sim::Event::kXenRefLeaked) != leaked_before[p.base] ||
                          wb.ledger.count(sim::Event::kXenRefLeaked) != leaked_before[p.other];
      if (p.generation && leaked) p.diverged = true;
      // The generations took different numbers of I/O page tables from Xen's heap (modern
      // splits an I/O superpage where paper-era has none to split), and a frame from the heap
      // is flushed from the CPUs that have not flushed since it was freed (flush_before_reuse,
      // after its own timestamp): one generation flushed CPUs the other did not, so a
      // translation the guest left stale survives in one only (regress-io-table-flush).
      const bool io_tables_differ =
          wa.ledger.count(sim::Event::kHwIommuPtAlloc) - io_tables_before[p.base] !=
          wb.ledger.count(sim::Event::kHwIommuPtAlloc) - io_tables_before[p.other];
      const bool flushes_differ = cpu_flushes(wa) - cpu_flushes_before[p.base] !=
                                  cpu_flushes(wb) - cpu_flushes_before[p.other];
      if (p.generation && io_tables_differ && flushes_differ) p.diverged = true;
      // The generations' free stacks differ once their I/O page tables took different frames
      // (paper-era maps every frame at populate time, modern only writable ones, and merges
      // I/O superpages, freeing their tables), so an allocation may give them different frames
      // even when both report the same. From then on their histories differ: a frame's TLB
      // flush before reuse (flush_before_reuse) follows that frame's own timestamp, so a stale
      // translation survives in one generation only (regress-allocation-frames-differ). And a
      // multi-frame extent one generation found and the other did not (above) leaves different
      // frames too: a populate whose I/O mapping failed keeps its extent and does not count it
      // (4.17's populate_physmap).
      if (p.generation && allocates_frames(op) && frames_held(wa) != frames_held(wb))
        p.diverged = true;
    }
  }
  for (std::size_t i = 0; i < worlds.size(); ++i) {
    if (!unchecked[i]) continue;
    if (const std::string found = check_world(*worlds[i], Scope::kAll); !found.empty()) {
      result.finding = "after step " + std::to_string(result.steps - 1) + ": " + found;
      return result;
    }
  }
  if (options.digest) {
    for (const auto& w : worlds)
      result.digest = result.digest * 0x100000001b3ULL ^ state_digest(*w);
  }
  return result;
}

}  // namespace pib::fuzz
