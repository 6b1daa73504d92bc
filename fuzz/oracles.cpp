// SPDX-License-Identifier: MIT
#include "oracles.hpp"

#include <algorithm>
#include <vector>

#include "hw/iommu.hpp"
#include "xen/audit.hpp"

namespace pib::fuzz {

namespace {

bool g_verify_incremental = false;

// Continuations re-enter at once in the model, so no hypercall returns to the guest with a
// table left PGT_partial or a deferred put pending (old_guest_table).
std::string partial_left(const xen::Hypervisor& xen) {
  for (const DomId id : xen.domain_ids()) {
    const xen::Domain& d = xen.domain(id);
    for (const xen::Vcpu& v : d.vcpus) {
      if (v.old_guest_table) return "old_guest_table pending after the hypercall";
    }
    // (A partial table whose old_guest_table reference Xen dropped stays partial for good: the
    // leak is recorded, xen.ref_leaked, and the auditor counts it.)
    bool left = false;
    for (const auto& run : d.pages.runs()) {
      xen.frame_table().for_each(Mfn{run.first}, run.count, [&](Mfn, const xen::PageInfo& pg) {
        left = left || (pg.partial && pg.leaked_refs == 0);
      });
    }
    if (left) return "a table left PGT_partial after the hypercall";
  }
  return {};
}

// The DMA adversary: the device writes every frame it must not reach (a word it already holds,
// so a wrongly allowed write changes no state before it is reported).
std::string dma_adversary(World& w) {
  const xen::Domain& d = w.xen.domain(w.si.domid);
  const bool modern = w.xen.params().generation == xen::XenGeneration::kModern;
  std::string found;
  const auto probe = [&](Mfn m, const xen::PageInfo& pg) {
    if (!found.empty()) return;
    const bool live_pt =
        pg.type != xen::PageType::kWritable && pg.type != xen::PageType::kNone && pg.type_count > 0;
    // Paper-era Xen leaves never-writable frames mapped (XSA-288), as the auditor allows.
    const bool forbidden = (live_pt && (modern || pg.ever_writable)) || pg.dma_revoked;
    if (!forbidden) return;
    const uint64_t word = w.machine.memory().read_u64(Maddr{m.value << kPageShift});
    if (w.machine.iommu()->dma_u64(kDevice, m.value << kPageShift, true, word).ok) {
      found = "DMA adversary: device wrote frame " + std::to_string(m.value) + " (type " +
              std::string(xen::type_name(pg.type)) + ", type count " +
              std::to_string(pg.type_count) + (pg.dma_revoked ? ", pooled" : "") + ")";
    }
  };
  for (const auto& run : d.pages.runs()) {
    w.xen.frame_table().for_each(Mfn{run.first}, run.count, probe);
    if (!found.empty()) break;
  }
  return found;
}

// The auditor's problems, less XSA-288 on paper-era Xen: a given-back frame that a type change
// mapped again and that was then freed stays in the domain's IOMMU (the advisory; the auditor
// reports it, example 11-xsa-288-freed-frame-dma.hvs). Device writes there are not performed
// (in_xsa288_hole), so the hole cannot corrupt what the frame becomes.
std::vector<xen::AuditProblem> audit_problems(const World& w) {
  std::vector<xen::AuditProblem> problems = xen::audit_problems(w.xen);
  if (w.xen.params().generation != xen::XenGeneration::kPaperEra || w.given_back.empty()) {
    return problems;
  }
  std::erase_if(problems, [&](const xen::AuditProblem& p) {
    return p.kind == xen::AuditKind::kIommuMapsUnowned && w.given_back.marked(p.frame.value);
  });
  return problems;
}

// The per-world oracles: auditor, no PGT_partial left behind, the DMA adversary.
std::string check_everything(World& w) {
  // The incremental auditor's verdict, and the full auditor for the problems' texts.
  const bool clean = w.audit.clean();
  if (g_verify_incremental && clean != xen::audit_problems(w.xen).empty()) {
    return w.label + ": the incremental auditor finds the state " +
           (clean ? "clean" : "not clean") + ", the full auditor does not";
  }
  if (const auto problems = clean ? std::vector<xen::AuditProblem>{} : audit_problems(w);
      !problems.empty()) {
    return w.label + ": auditor: " + problems.front().text + " (" +
           std::to_string(problems.size()) + " problems)";
  }
  if (const std::string left = partial_left(w.xen); !left.empty()) return w.label + ": " + left;
  if (const std::string dma = dma_adversary(w); !dma.empty()) return w.label + ": " + dma;
  return {};
}

}  // namespace

// A guest access that faulted into Xen (writable page-table emulation, or a fault bounced to
// the guest) may have changed anything Xen keeps; one that did not changed the TLBs and the
// word it stored, which the auditor's TLB rule covers: writes can only reach frames through
// translations that rule allows. A device access changes the IOTLB, which only the DMA
// adversary checks (the I/O page tables are Xen's alone).
Scope scope_of(const Op& op, bool entered_xen) {
  switch (op.kind) {
    case Kind::kStore:
    case Kind::kXchg:
    case Kind::kLoad:
      return entered_xen ? Scope::kAll : Scope::kTlbs;
    case Kind::kDmaWrite:
    case Kind::kDmaRead:
      return Scope::kDma;
    case Kind::kModeSwitch:
    case Kind::kTimer:
      // Xen ran, but a mode switch changes only the vCPU's mode and its CPU's CR3 (toggle_guest_pt)
      // and a timer only its deadline: the references and I/O mappings stay as they were.
      return Scope::kTlbs;
    default:
      return Scope::kAll;
  }
}

void verify_incremental_audit(bool on) {
  g_verify_incremental = on;
}

std::string check_world(World& w, Scope scope) {
  if (scope == Scope::kAll) return check_everything(w);
  if (scope == Scope::kDma) {
    const std::string dma = dma_adversary(w);
    return dma.empty() ? dma : w.label + ": " + dma;
  }
  const auto problems = xen::audit_tlb_problems(w.xen);
  return problems.empty() ? std::string{} : w.label + ": auditor: " + problems.front().text;
}

// Did the whole operation fail (so it should have changed nothing)? A mode switch and a timer
// always count as done.
bool refused_whole(const Op& op, const Outcome& o) {
  switch (op.kind) {
    case Kind::kMmuUpdate:
    case Kind::kMmuext:
      return o.rc < 0 && o.done == 0;
    case Kind::kMulticall:
      return !o.sub.empty() &&
             std::all_of(o.sub.begin(), o.sub.end(), [](int64_t r) { return r < 0; });
    case Kind::kMemoryOp:
      return o.rc <= 0;
    case Kind::kModeSwitch:
    case Kind::kTimer:
      return false;
    default:  // update_va_mapping, guest accesses, DMA
      return o.rc < 0;
  }
}

// Did `pol` accept a request that `base` refused?
bool accepted_what_was_refused(const Op& op, const Outcome& base, const Outcome& pol) {
  if (op.kind == Kind::kMulticall) {
    for (std::size_t i = 0; i < base.sub.size() && i < pol.sub.size(); ++i) {
      if (base.sub[i] < 0 && pol.sub[i] == 0) return true;
    }
    return false;
  }
  if (op.kind == Kind::kMemoryOp) return pol.rc > base.rc;  // more extents done
  if (base.rc >= 0) return false;
  if (op.kind == Kind::kMmuUpdate || op.kind == Kind::kMmuext) {
    return pol.rc == 0 || pol.done > base.done;
  }
  return pol.rc == 0;
}

bool uses_pool(const Op& op) {
  for (const auto& o : op.ops) {
    if (is_pool_cmd(o.cmd)) return true;
  }
  for (const auto& e : op.entries) {
    for (const auto& o : e.mmuext_ops) {
      if (is_pool_cmd(o.cmd)) return true;
    }
  }
  return false;
}

bool any_rc(const Outcome& o, int64_t rc) {
  if (o.rc == rc) return true;
  for (int64_t r : o.sub) {
    if (r == rc) return true;
  }
  return false;
}

// An mmu_update (direct or in a multicall) whose page owner is not its page-table owner (the
// caller's tables, unless foreigndom's PFD half names another's). Since 4.11 Xen refuses such a
// request to an L2-L4 table (-EINVAL); paper-era Xen (4.8) ignored the page owner there and
// applied the page-table owner's own rules.
bool names_foreign_owner(const Op& op, DomId caller) {
  auto foreign = [caller](abi::ForeignDom f) {
    const DomId pg = abi::pg_owner_of(f) == abi::kDomidSelf ? caller : abi::pg_owner_of(f);
    const uint32_t pt = abi::pt_dom_of(f) != 0 ? abi::pt_dom_of(f) - 1 : caller;
    return pg != pt;
  };
  if (op.kind == Kind::kMmuUpdate) return foreign(op.foreigndom);
  if (op.kind != Kind::kMulticall) return false;
  return std::any_of(op.entries.begin(), op.entries.end(), [&](const abi::MulticallEntry& e) {
    return e.op == abi::HypercallNr::kMmuUpdate && foreign(e.foreigndom);
  });
}

bool allocates_frames(const Op& op) {
  return op.kind == Kind::kMemoryOp && (op.memory_cmd == abi::kXenmemPopulatePhysmap ||
                                        op.memory_cmd == abi::kXenmemIncreaseReservation);
}

bool allocates_multi_frame_extents(const Op& op) {
  return allocates_frames(op) && op.reservation.extent_order > 0;
}

uint64_t cpu_flushes(const World& w) {
  return w.ledger.count(sim::Event::kXenTlbFlushLocal) +
         w.ledger.count(sim::Event::kXenTlbFlushRemote);
}

std::vector<std::pair<uint64_t, uint64_t>> frames_held(const World& w) {
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  for (const DomId id : w.xen.domain_ids()) {
    for (const auto& r : w.xen.domain(id).pages.runs()) runs.emplace_back(r.first, r.count);
  }
  return runs;
}

bool uses_superpage_marks(const Op& op) {
  auto marks = [](const std::vector<abi::MmuextOp>& ops) {
    for (const auto& o : ops) {
      if (o.cmd == abi::kMmuextMarkSuper || o.cmd == abi::kMmuextUnmarkSuper) return true;
    }
    return false;
  };
  if (marks(op.ops)) return true;
  for (const auto& e : op.entries) {
    if (marks(e.mmuext_ops)) return true;
  }
  return false;
}

// Whether two multicall outcomes first differ in an entry after the batch's first mmu_update.
// Modern Xen flushes the TLBs at the end of an mmu_update that changed an L2-L4 entry
// (XSA-286), paper-era Xen does not, so a later update_va_mapping in the same batch may find
// its L1 through a stale linear-page-table translation on paper-era Xen only (xen-pv-mmu.md
// A2; docs/attacks.md, XSA-286). Earlier entries ran before any such flush and must agree.
bool after_first_mmu_update(const Op& op, const Outcome& a, const Outcome& b) {
  if (op.kind != Kind::kMulticall || a.sub.size() != b.sub.size()) return false;
  std::size_t first_update = op.entries.size();
  for (std::size_t i = 0; i < op.entries.size(); ++i) {
    if (op.entries[i].op == abi::HypercallNr::kMmuUpdate) {
      first_update = i;
      break;
    }
  }
  for (std::size_t i = 0; i < a.sub.size(); ++i) {
    if (a.sub[i] != b.sub[i]) return i > first_update;
  }
  return false;  // only the overall rc or done differ: not explained by a flush
}

}  // namespace pib::fuzz
