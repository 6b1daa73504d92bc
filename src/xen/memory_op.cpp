// SPDX-License-Identifier: MIT
// HYPERVISOR_memory_op for a PV domain (xen/common/memory.c, Xen 4.17; the paper era's
// differences are named where they apply): frames leave a domain (decrease_reservation) and enter
// it (increase_reservation, populate_physmap), and the two statistics commands.
//
// The ABI's shape is Xen's: a reservation command returns the number of extents completed, never
// an errno; whatever refuses or fails shows only as a short count, and the guest has to compare it
// with what it asked for. A PV domain has no p2m of Xen's: it names machine frames itself, Xen
// keeps the M2P, and the guest its own p2m.
//
// Giving a frame back drops its allocation reference (PGC_allocated) and nothing else. A frame
// still referenced — a pinned or linked page table, a mapped frame, a base pointer — stays the
// domain's, typed and counted, until its last reference goes; only then is it freed. So no frame
// leaves a domain while the domain can still reach it, and none is ever unpinned on the way (Xen
// did that until XSA-252, 4.11 and every patched branch). The IOMMU follows the generation: 4.17
// leaves a frame in it while it is writable-typed and removes it at the final put
// (cleanup_page_mappings); 4.8-4.11 remove it at decrease_reservation, whatever its type.
#include <algorithm>
#include <climits>
#include <utility>

#include "xen/hypervisor.hpp"

namespace pib::xen {

using sim::Event;

namespace {

constexpr unsigned kMemopExtentShift = 6;  // cmd = op | start_extent << 6 (continuations)
constexpr uint32_t kMemopCmdMask = (1U << kMemopExtentShift) - 1;
constexpr unsigned kDomuMaxOrder = 9;               // CONFIG_DOMU_MAX_ORDER (PAGETABLE_ORDER)
constexpr unsigned kPageallocMaxOrder = 18;         // 2 * PAGETABLE_ORDER: control/hardware domains
constexpr unsigned kMaxOrder = kPageallocMaxOrder;  // MAX_ORDER: the populate-on-demand bound
constexpr unsigned kNumaNoNode = 0xff;
constexpr unsigned kMaxNumNodes = 64;

// max_order(): the largest extent a domain may ask for. The model's `privileged` is the control
// and hardware domain (dom0), whose bounds are the allocator's own.
unsigned max_order(const Domain& caller) {
  return caller.config.privileged ? kPageallocMaxOrder : kDomuMaxOrder;
}

unsigned order_from_pages(uint64_t pages) {
  unsigned order = 0;
  while ((uint64_t{1} << order) < pages) ++order;
  return order;
}

}  // namespace

int64_t Hypervisor::memory_op(VcpuId vcpu, uint32_t cmd, abi::MemoryReservation& reservation) {
  hypercall_entry(vcpu);
  if (bounce_user_mode_hypercall(vcpu)) return abi::err::kBouncedToGuestKernel;
  ledger_.charge(Event::kXenHcMemoryOp);
  port_vcpu(vcpu);
  Domain& caller = port_dom();
  const uint32_t op = cmd & kMemopCmdMask;
  const uint32_t start_extent = cmd >> kMemopExtentShift;
  int64_t rc = abi::err::kENOSYS;
  switch (op) {
    case abi::kXenmemIncreaseReservation:
    case abi::kXenmemDecreaseReservation:
    case abi::kXenmemPopulatePhysmap:
      rc = reservation_op(cmd, reservation, caller);
      break;
    case abi::kXenmemCurrentReservation:
    case abi::kXenmemMaximumReservation: {
      if (start_extent != 0) {
        rc = abi::err::kEINVAL;
        break;
      }
      const DomId id = reservation.domid == abi::kDomidSelf ? caller.id : reservation.domid;
      if (id >= domains_.size()) {
        rc = abi::err::kESRCH;
      } else if (id != caller.id && !caller.config.privileged) {
        rc = abi::err::kEPERM;  // xsm_memory_stat_reservation (XSM_TARGET)
      } else {
        const Domain& d = *domains_[id];
        rc = static_cast<int64_t>(op == abi::kXenmemCurrentReservation ? d.pages.size()
                                                                       : d.config.max_pages);
      }
      break;
    }
    default:
      break;  // the other commands are outside this model: -ENOSYS
  }
  if (rc < 0) ledger_.charge(Event::kXenHcFailed);
  do_softirq();
  return rc;
}

int64_t Hypervisor::reservation_op(uint32_t cmd, abi::MemoryReservation& r, Domain& caller) {
  const uint32_t op = cmd & kMemopCmdMask;
  const uint64_t start = cmd >> kMemopExtentShift;
  const uint64_t nr = r.extent_start.size();
  // do_memory_op: every refusal before the work answers with the extents done so far.
  if (nr > (UINT_MAX >> kMemopExtentShift)) return static_cast<int64_t>(start);
  if (start >= nr) return static_cast<int64_t>(start);
  Domain* target = nullptr;
  if (r.domid == abi::kDomidSelf || r.domid == caller.id) {
    target = &caller;
  } else if (r.domid < domains_.size()) {
    target = domains_[r.domid].get();
  }
  if (target == nullptr) return static_cast<int64_t>(start);
  // xsm_memory_adjust_reservation (XSM_TARGET): another domain's memory only for the toolstack.
  if (target != &caller && !caller.config.privileged) return static_cast<int64_t>(start);

  // construct_memop_from_reservation: an address limit below every frame is refused; one above
  // them all is no limit.
  Mfn limit{frames_.size()};
  const uint32_t bits = r.mem_flags & abi::kXenmemfAddressBitsMask;
  if (bits != 0 && bits < order_from_pages(frames_.size()) + kPageShift) {
    if (bits <= kPageShift) return static_cast<int64_t>(start);
    limit = Mfn{uint64_t{1} << (bits - kPageShift)};
  }
  // A PV domain has no virtual NUMA layout: a vnode request asks for nothing. A physical node is
  // the toolstack's to name; anyone else's exact request is refused, a loose one ignored. The
  // model's machine is one node, 0.
  bool exact_elsewhere = false;
  if ((r.mem_flags & abi::kXenmemfVnode) == 0) {
    const unsigned node = (((r.mem_flags & abi::kXenmemfNodeMask) >> 8) - 1) & 0xff;
    const bool exact = (r.mem_flags & abi::kXenmemfExactNodeRequest) != 0;
    if (node != kNumaNoNode) {
      if (caller.config.privileged) {
        if (node >= kMaxNumNodes) return static_cast<int64_t>(start);
        exact_elsewhere = exact && node != 0;
      } else if (exact) {
        return static_cast<int64_t>(start);
      }
    }
  }
  const bool pod =
      op == abi::kXenmemPopulatePhysmap && (r.mem_flags & abi::kXenmemfPopulateOnDemand);
  if (r.extent_order > (pod ? kMaxOrder : max_order(caller))) return static_cast<int64_t>(start);

  uint64_t i = start;
  for (; i < nr; ++i) {
    if (i != start && hypercall_preempt_check()) {
      // The continuation re-enters with start_extent = i; the checks above give the same answers.
      ledger_.charge(Event::kXenPreempted);
      do_softirq();
      ledger_.charge(Event::kXenContinuation);
      ledger_.charge(Event::kXenEntry);
    }
    bool ok = false;
    if (op == abi::kXenmemDecreaseReservation) {
      ok = decrease_extent(*target, r.extent_start[i], r.extent_order);
    } else if (pod) {
      // Populate-on-demand is for HVM guests: never on oneself, and nothing to mark for PV.
      ok = target != &caller;
    } else {
      const Mfn first =
          exact_elsewhere ? kInvalidMfn : alloc_extent(*target, r.extent_order, limit);
      ok = first != kInvalidMfn;
      // increase_reservation only hands the frames over: no M2P entry, no IOMMU mapping.
      if (ok && op == abi::kXenmemPopulatePhysmap) {
        ok = physmap_add(*target, first, r.extent_start[i], r.extent_order);
      }
      if (ok) r.extent_start[i] = first.value;  // the guest learns the machine frame
    }
    if (!ok) break;
  }
  return static_cast<int64_t>(i);
}

bool Hypervisor::decrease_extent(Domain& d, uint64_t gmfn, uint32_t order) {
  // Frames before a failing one are gone, but the extent does not count as done.
  for (uint64_t j = 0; j < (uint64_t{1} << order); ++j) {
    if (guest_remove_page(d, Mfn{gmfn + j}) != abi::err::kOk) return false;
  }
  return true;
}

int64_t Hypervisor::guest_remove_page(Domain& d, Mfn mfn) {
  // A PV guest frame number is the machine frame (get_gfn_query reports RAM for it).
  if (!frames_.valid(mfn)) return abi::err::kEINVAL;  // "page number invalid"
  if (!get_page(mfn, d)) return abi::err::kENXIO;     // "Bad page free": not the domain's frame
  if (!xsa288_fixed(params_) && d.need_iommu_sync()) {
    // 4.8-4.11 guest_physmap_remove_page (p2m_remove_page, PV branch): out of the IOMMU now,
    // whatever the frame's type, with the invalidation an unmap needs.
    iommu_unmap(d, mfn);
  }
  PageInfo& pg = frames_[mfn];
  if (pg.allocated) {  // put_page_alloc_ref: never the last reference, ours is still held
    pg.allocated = false;
    put_page(mfn);
  }
  put_page(mfn);  // the last reference, if nothing else holds one: the frame is freed
  return abi::err::kOk;
}

Mfn Hypervisor::alloc_extent(Domain& d, uint32_t order, Mfn limit) {
  const uint64_t n = uint64_t{1} << order;
  // assign_pages: nothing for a dying domain, nothing beyond max_pages.
  if (d.dying || d.pages.size() + n > d.config.max_pages || free_frames_.empty()) {
    return kInvalidMfn;
  }
  // The model's allocator hands out the top of its free stack only (no buddy alignment): an
  // extent longer than the top run, or above the address limit, is "could not allocate".
  uint64_t got = 0;
  const Mfn first = free_frames_.pop_run(n, &got);
  if (got < n || first.value + n > limit.value) {
    for (uint64_t k = got; k-- > 0;) free_frames_.push(Mfn{first.value + k});
    return kInvalidMfn;
  }
  flush_before_reuse(first, n);
  PageInfo pg;
  pg.owner = d.id;
  pg.allocated = true;
  pg.count = 1;
  frames_.fill(first, n, pg);
  d.pages.append_run(first, n);
  return first;
}

bool Hypervisor::physmap_add(Domain& d, Mfn first, uint64_t gpfn, uint32_t order) {
  for (uint64_t k = 0; k < (uint64_t{1} << order); ++k) {
    const Mfn m{first.value + k};
    if (d.need_iommu_sync()) {
      if (xsa288_fixed(params_)) {
        // 4.17 guest_physmap_add_page: a writable type reference taken and dropped leaves the
        // frame writable-typed with count 0, and so in the IOMMU (the type change maps it).
        // A failure stops populate_physmap; the frame stays allocated to the domain.
        if (get_page_and_type(m, d, PageType::kWritable) != abi::err::kOk) return false;
        put_page_and_type(m, d);
      } else {
        // 4.8-4.11 guest_physmap_add_entry: mapped R/W whatever its type (its result is ignored).
        iommu_map(d, m, true);
      }
    }
    set_m2p(m, Pfn{gpfn + k});
  }
  return true;
}

void Hypervisor::flush_before_reuse(Mfn first, uint64_t count) {
  if (!freed_while_running_) return;
  const FrameTable& frames = frames_;
  uint64_t stamp = 0;
  for (uint64_t k = 0; k < count; ++k) {
    stamp = std::max(stamp, frames[Mfn{first.value + k}].tlbflush_timestamp);
  }
  if (stamp == 0) return;
  const uint32_t cpus = machine_.cpu_count();
  const uint64_t all = cpus >= 64 ? ~uint64_t{0} : (uint64_t{1} << cpus) - 1;
  flush_mask(filter_by_timestamp(all, stamp));
}

}  // namespace pib::xen
