// SPDX-License-Identifier: MIT
// Single-entry updates of validated tables (mod_l1_entry .. mod_l4_entry) and the mmu_update
// hypercall (do_mmu_update) with its commands, partial-success count, deferred child puts
// (old_guest_table + continuation) and the post-XSA-286 TLB flush.
#include "common/error.hpp"
#include "xen/hypervisor.hpp"
#include "xen/pt_flags.hpp"

namespace pib::xen {

using hw::Pte;
using namespace hw::pte_bits;
using sim::Event;

namespace {
constexpr uint64_t kAdBits = kAccessed | kDirty;
}

int64_t Hypervisor::mod_l1_entry(Mfn table, uint64_t index, Pte value, Domain& d, bool preserve_ad,
                                 DomId pg_owner) {
  const Pte old_e{mem_.read_entry(table, index)};
  Pte new_e = value;
  if (preserve_ad) new_e = new_e.with(old_e.raw() & kAdBits);
  if (new_e.present()) {
    if (new_e.flags() & l1_disallow_mask(d.may_use_cache_attrs())) return abi::err::kEINVAL;
    new_e = adjust_guest_entry(new_e, 1);
    if (fast_path_ok(old_e, new_e, 1)) {
      ledger_.charge(Event::kXenModEntryFast);
      mem_.write_entry(table, index, new_e.raw());
      return abi::err::kOk;
    }
    const int64_t rc = get_page_from_l1e(new_e, d, pg_owner);
    if (rc != abi::err::kOk) return rc;
  }
  ledger_.charge(Event::kXenModEntrySlow);
  mem_.write_entry(table, index, new_e.raw());
  put_page_from_l1e(old_e, d);
  return abi::err::kOk;
}

bool Hypervisor::upper_put_is_deferred(unsigned level) const {
  // L3/L4 puts have gone through old_guest_table for long; L2 since Xen 4.12.
  return level >= 3 || params_.generation == XenGeneration::kModern;
}

int64_t Hypervisor::mod_upper_entry(Mfn table, unsigned level, uint64_t index, Pte value, Domain& d,
                                    Vcpu& v, bool preserve_ad) {
  if (level == 4 && !is_guest_l4_slot(index)) return abi::err::kEINVAL;  // Xen's own slots
  const Pte old_e{mem_.read_entry(table, index)};
  Pte new_e = value;
  if (preserve_ad) new_e = new_e.with(old_e.raw() & kAdBits);
  if (new_e.present()) {
    if (new_e.flags() & kBaseDisallow) return abi::err::kEINVAL;
    new_e = adjust_guest_entry(new_e, level);
    if (fast_path_ok(old_e, new_e, level)) {
      ledger_.charge(Event::kXenModEntryFast);
      mem_.write_entry(table, index, new_e.raw());
      return abi::err::kOk;
    }
    // mod_l3_entry / mod_l4_entry validate a new child preemptibly (kERESTART: the request is
    // issued again by the continuation, which takes the child's validation over).
    const int64_t rc = get_page_from_upper(new_e, table, level, d, /*preemptible=*/true);
    if (rc != abi::err::kOk) return rc;
  }
  ledger_.charge(Event::kXenModEntrySlow);
  mem_.write_entry(table, index, new_e.raw());
  const Mfn child = release_upper_entry(old_e, table, level);
  if (child != kInvalidMfn) {
    if (upper_put_is_deferred(level)) {
      if (v.old_guest_table) model_bug("two deferred page-table puts pending");
      v.old_guest_table = child;
    } else {
      put_page_and_type(child, d);
    }
  }
  return abi::err::kOk;
}

int64_t Hypervisor::put_old_guest_table(Vcpu& v, Domain& d, bool preemptible) {
  if (!v.old_guest_table) return abi::err::kOk;
  const Mfn table = *v.old_guest_table;
  // Xen's put names no domain: the table's owner is implicit. It may be another domain's (a
  // control domain's update of that domain's tables, or its unpin of one, defers the put to
  // the caller's own vCPU).
  Domain* const owner = page_owner(frames_[table].owner, d);
  Domain& table_domain = owner != nullptr ? *owner : d;
  const int64_t rc = put_page_type(table, table_domain, preemptible, v.old_guest_table_partial);
  if (rc == abi::err::kERESTART) {
    v.old_guest_table_partial = true;  // the partial state now holds the type count
    return rc;
  }
  v.old_guest_table.reset();
  v.old_guest_table_partial = false;
  put_page(table);
  return abi::err::kOk;
}

bool Hypervisor::continue_into_old_guest_table(Vcpu& v, Domain& d, Event hypercall) {
  do_softirq();  // on the way back to the guest
  interleave(Step::kContinuation, *v.old_guest_table);
  charge_continuation(hypercall);
  return put_old_guest_table(v, d) == abi::err::kOk;
}

void Hypervisor::finish_old_guest_table(Vcpu& v, Domain& d, Event hypercall) {
  // Xen's continuation with no items left (count MMU_UPDATE_PREEMPTED, the result passed in
  // foreigndom): each entry runs put_old_guest_table, again while it is preempted, and then
  // returns the result the batch had.
  while (v.old_guest_table) continue_into_old_guest_table(v, d, hypercall);
}

int64_t Hypervisor::do_one_mmu_update(const abi::MmuUpdate& req, Domain& d, Domain& pt, Vcpu& v,
                                      DomId pg_owner, bool* xsm_checked, bool* touched_upper) {
  // do_mmu_update decodes the command from the low 3 bits (an entry is 8 bytes); the rest of
  // `ptr` is the entry's machine address.
  const uint64_t cmd = req.ptr & abi::kMmuUpdateCmdMask;
  const uint64_t ptr = req.ptr - cmd;
  const Mfn mfn{ptr >> kPageShift};
  const bool pt_update = cmd == abi::kMmuNormalPtUpdate || cmd == abi::kMmuPtUpdatePreserveAd ||
                         cmd == abi::kMmuPtUpdateNoTranslate;
  if (cmd == abi::kMmuMachphysUpdate && &pt != &d) return abi::err::kEPERM;
  if ((pt_update || cmd == abi::kMmuMachphysUpdate) && !*xsm_checked) {
    // xsm_mmu_update, at the first request that needs it: the page owner must be one the caller
    // may act on, except DOMID_IO, which the dummy policy lets through (get_page_from_l1e then
    // lets it map nothing but I/O memory the caller may use); for page-table updates the
    // page-table owner too.
    if (pg_owner != abi::kDomidIo) {
      if (const int64_t rc = xsm_target(d, pg_owner); rc != abi::err::kOk) return rc;
    }
    if (pt_update) {
      if (const int64_t rc = xsm_target(d, pt.id); rc != abi::err::kOk) return rc;
    }
    *xsm_checked = true;
  }
  switch (cmd) {
    case abi::kMmuNormalPtUpdate:
    case abi::kMmuPtUpdatePreserveAd:
    case abi::kMmuPtUpdateNoTranslate: {  // a PV domain has no p2m to skip: same as normal
      // The table is one of the page-table owner's frames, updated under its rules; a put its
      // update defers still goes to the caller's vCPU (current->arch.old_guest_table).
      const uint64_t index = page_offset(ptr) / 8;
      if (!get_page(mfn, pt)) return abi::err::kEINVAL;
      PageInfo& pg = frames_[mfn];
      const bool preserve = cmd == abi::kMmuPtUpdatePreserveAd;
      int64_t rc = abi::err::kOk;
      if (pg.type_count > 0 && pg.validated) {  // page_lock() succeeds
        if (pg.type == PageType::kL1) {
          rc = mod_l1_entry(mfn, index, Pte{req.val}, pt, preserve, pg_owner);
        } else if (is_pt_type(pg.type)) {
          // Since 4.11 (commit 7993e3be68) an L2-L4 update whose page owner is not the
          // page-table owner is refused; before, the page owner was silently ignored (the
          // page-table owner's own rules apply).
          const bool refused = pg_owner != pt.id && params_.generation == XenGeneration::kModern;
          rc = refused
                   ? abi::err::kEINVAL
                   : mod_upper_entry(mfn, level_of(pg.type), index, Pte{req.val}, pt, v, preserve);
          if (rc == abi::err::kOk) *touched_upper = true;
        } else if (pg.type == PageType::kWritable) {
          ledger_.charge(Event::kXenWritableMmuUpdate);
          mem_.write_entry(mfn, index, req.val);
        } else {
          rc = abi::err::kEINVAL;
        }
      } else if (get_page_type(mfn, PageType::kWritable, pt) == abi::err::kOk) {
        // Not a live table: a plain store, which (re)types the frame writable.
        ledger_.charge(Event::kXenWritableMmuUpdate);
        mem_.write_entry(mfn, index, req.val);
        put_page_type(mfn, pt);
      } else {
        rc = abi::err::kEINVAL;
      }
      put_page(mfn);
      return rc;
    }
    case abi::kMmuMachphysUpdate: {
      // get_page_from_mfn(mfn, pg_owner): the frame must be the page owner's; DOMID_IO and
      // DOMID_XEN own no frame a guest can name in the model.
      const Domain* const owner = page_owner(pg_owner, d);
      if (owner == nullptr || !get_page(mfn, *owner)) return abi::err::kEINVAL;
      m2p_.set(mfn.value, req.val);
      put_page(mfn);
      return abi::err::kOk;
    }
    default:
      return abi::err::kENOSYS;
  }
}

int64_t Hypervisor::mmu_update(VcpuId vcpu, std::span<const abi::MmuUpdate> reqs, uint32_t* done,
                               abi::ForeignDom foreigndom) {
  hypercall_entry(vcpu);
  if (bounce_user_mode_hypercall(vcpu)) return abi::err::kBouncedToGuestKernel;
  ledger_.charge(Event::kXenHcMmuUpdate);
  return with_continuations(reqs, done, Event::kXenHcMmuUpdate, Event::kXenMmuUpdateRequeued,
                            [&](std::span<const abi::MmuUpdate> left, uint32_t* part) {
                              return mmu_update_body(vcpu, left, part, foreigndom);
                            });
}

// do_mmu_update (4.17). A deferred put (old_guest_table) stops the request loop: Xen creates a
// continuation and, still in this invocation, performs the XSA-286 flush for the upper entries
// changed so far; the continuation's entry then runs put_old_guest_table (preemptible: a
// preempted put ends that entry with another continuation). So the put (and the
// TLB-clock stamp a devalidation leaves) comes after that flush, and each deferred put ends
// one invocation with its own flush.
int64_t Hypervisor::mmu_update_body(VcpuId vcpu, std::span<const abi::MmuUpdate> reqs,
                                    uint32_t* done, abi::ForeignDom foreigndom) {
  Vcpu& v = port_vcpu(vcpu);
  Domain& d = port_dom();
  if (done != nullptr) *done = 0;
  if (put_old_guest_table(v, d) == abi::err::kERESTART) return abi::err::kERESTART;
  // The page-table owner (PFD: foreigndom's high half, 1 + its id): the requests' tables must
  // be its frames and are updated under its rules; a foreign one needs a vCPU. Then the page
  // owner (the low half).
  Domain* pt = &d;
  int64_t rc = abi::err::kOk;
  if (const uint32_t pt_dom = abi::pt_dom_of(foreigndom); pt_dom != 0) {
    if (pt_dom - 1 >= domains_.size()) {
      rc = abi::err::kESRCH;
    } else {
      pt = domains_[pt_dom - 1].get();
      if (pt != &d && pt->vcpus.empty()) rc = abi::err::kEINVAL;
    }
  }
  DomId pg_owner = d.id;
  if (rc == abi::err::kOk) rc = get_pg_owner(abi::pg_owner_of(foreigndom), d, &pg_owner);
  if (rc != abi::err::kOk) {
    ledger_.charge(Event::kXenHcFailed);
    return rc;
  }
  bool xsm_checked = false;
  bool touched_upper = false;
  uint32_t i = 0;
  for (; i < reqs.size(); ++i) {
    if (i > 0 && hypercall_preempt_check()) {
      ledger_.charge(Event::kXenPreempted);
      rc = abi::err::kERESTART;
      break;
    }
    if (v.old_guest_table) {
      // The invocation ends here; its continuation re-enters with the requests left.
      flush_linear_pt(*pt, &touched_upper);
      if (!continue_into_old_guest_table(v, d, Event::kXenHcMmuUpdate)) {
        rc = abi::err::kERESTART;
        break;
      }
    }
    rc = do_one_mmu_update(reqs[i], d, *pt, v, pg_owner, &xsm_checked, &touched_upper);
    // A request preempted part-way (its new child's validation) is issued again: counted once.
    if (rc != abi::err::kERESTART) ledger_.charge(Event::kXenMmuUpdateRequests);
    if (rc != abi::err::kOk) break;
  }
  flush_linear_pt(*pt, &touched_upper);
  // Still pending at the end (a put deferred by the last request, or the teardown of a failed
  // validation): Xen re-enters through continuations to finish it. When preempted, the
  // continuation that re-issues the requests left runs it first instead.
  if (rc != abi::err::kERESTART) finish_old_guest_table(v, d, Event::kXenHcMmuUpdate);
  if (done != nullptr) *done = i;
  if (rc != abi::err::kOk && rc != abi::err::kERESTART) ledger_.charge(Event::kXenHcFailed);
  return rc;
}

void Hypervisor::flush_linear_pt(Domain& pt, bool* touched_upper) {
  if (!*touched_upper || params_.generation != XenGeneration::kModern) return;
  // XSA-286: no CPU may keep using translations derived from the replaced upper entries. Xen
  // flushes the page-table owner's dirty CPUs (the caller's own CPU among them when the tables
  // are its own); another domain's tables that no CPU holds need no flush.
  *touched_upper = false;
  const uint64_t mask = pt.dirty_cpumask;
  if (mask == 0) return;
  ledger_.charge(Event::kXenTlbFlushMmuUpdate);
  flush_mask(mask);
}

// get_pg_owner (x86/mm.c). The pseudo-domains exist; the caller's own numeric id does not count
// as foreign.
int64_t Hypervisor::get_pg_owner(DomId foreigndom, const Domain& d, DomId* pg_owner) const {
  *pg_owner = d.id;
  if (foreigndom == abi::kDomidSelf) return abi::err::kOk;
  if (foreigndom == d.id) return abi::err::kESRCH;
  const bool exists =
      foreigndom < domains_.size() || foreigndom == abi::kDomidIo || foreigndom == abi::kDomidXen;
  if (!exists) return abi::err::kESRCH;
  *pg_owner = foreigndom;
  return abi::err::kOk;
}

Domain* Hypervisor::page_owner(DomId pg_owner, Domain& caller) {
  if (pg_owner == caller.id) return &caller;
  return pg_owner < domains_.size() ? domains_[pg_owner].get() : nullptr;
}

// xsm_default_action(XSM_TARGET, d, pg_owner) of the dummy policy (no device-model or xenstore
// targets in the model).
int64_t Hypervisor::xsm_target(const Domain& d, DomId pg_owner) const {
  return pg_owner == d.id || d.config.privileged ? abi::err::kOk : abi::err::kEPERM;
}

void Hypervisor::charge_continuation(Event hypercall) {
  ledger_.charge(Event::kXenContinuation);
  ledger_.charge(Event::kXenEntry);
  ledger_.charge(hypercall);
}

}  // namespace pib::xen
