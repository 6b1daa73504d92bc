// SPDX-License-Identifier: MIT
// The mmuext_op hypercall (do_mmuext_op): pin/unpin, base pointers, guest-requested TLB
// maintenance, and the page clear/copy helpers.
#include "common/error.hpp"
#include "xen/hypervisor.hpp"

namespace pib::xen {

using sim::Event;

// MMUEXT_PIN_Lx_TABLE: get_page_type_preemptible. A validation stopped part-way drops the
// op's general reference (the partial state keeps the type count), and the continuation issues
// the pin again, which takes the validation over.
int64_t Hypervisor::pin_table(Mfn mfn, PageType type, Domain& d, bool preemptible) {
  const int64_t rc = get_page_and_type(mfn, d, type, preemptible);
  if (rc != abi::err::kOk) return rc;
  PageInfo& pg = frames_[mfn];
  if (pg.pinned) {  // "mfn already pinned"
    if (preemptible && type != PageType::kL1) {
      // Xen drops an L2-L4 pin attempt's references through old_guest_table (pin_drop).
      Vcpu& v = port_dom().vcpus[current_vcpu_];
      v.old_guest_table = mfn;
      v.old_guest_table_partial = false;
    } else {
      put_page_and_type(mfn, d);
    }
    return abi::err::kEINVAL;
  }
  pg.pinned = true;
  ledger_.charge(Event::kXenPin);
  return abi::err::kOk;
}

// MMUEXT_UNPIN_TABLE: put_page_and_type_preemptible. A devalidation stopped part-way leaves the
// table to old_guest_table (with the pin's general reference); the op itself has succeeded, and
// the next op (or the batch's end) goes through a continuation that finishes the put.
int64_t Hypervisor::unpin_table(Mfn mfn, Domain& d, Vcpu& v) {
  if (!get_page(mfn, d)) return abi::err::kEINVAL;
  PageInfo& pg = frames_[mfn];
  if (!pg.pinned) {  // "mfn not pinned"
    put_page(mfn);
    return abi::err::kEINVAL;
  }
  pg.pinned = false;
  ledger_.charge(Event::kXenUnpin);
  // The pin's references; may devalidate the whole subtree.
  if (put_page_and_type_preemptible(mfn, d) == abi::err::kERESTART) {
    v.old_guest_table = mfn;
    v.old_guest_table_partial = true;
  }
  put_page(mfn);
  return abi::err::kOk;
}

// The op's new root table is validated preemptibly (kERESTART: the op is issued again). The old
// one's references go preemptibly too; when that stops part-way the op also ends with
// kERESTART, and its second issue finds the table installed already.
int64_t Hypervisor::new_guest_cr3(Mfn mfn, Domain& d, Vcpu& v, bool preemptible) {
  const Mfn old = v.guest_table;
  if (old == mfn) {
    if (v.in_kernel) write_ptbase(v, d);
    return abi::err::kOk;
  }
  const int64_t rc = get_page_and_type(mfn, d, PageType::kL4, preemptible);
  if (rc != abi::err::kOk) return rc;
  v.guest_table = mfn;
  ledger_.charge(Event::kXenNewBaseptr);
  if (v.in_kernel) write_ptbase(v, d);
  return old == kInvalidMfn ? abi::err::kOk : put_old_base(old, d, v, preemptible);
}

int64_t Hypervisor::new_user_baseptr(Mfn mfn, Domain& d, Vcpu& v, bool preemptible) {
  const Mfn old = v.guest_table_user;
  const Mfn wanted = mfn.value != 0 ? mfn : kInvalidMfn;
  if (old == wanted) return abi::err::kOk;
  if (wanted != kInvalidMfn) {
    const int64_t rc = get_page_and_type(mfn, d, PageType::kL4, preemptible);
    if (rc != abi::err::kOk) return rc;
  }
  v.guest_table_user = wanted;
  ledger_.charge(Event::kXenNewUserBaseptr);  // loaded at the next switch to user mode
  return old == kInvalidMfn ? abi::err::kOk : put_old_base(old, d, v, preemptible);
}

int64_t Hypervisor::put_old_base(Mfn old, Domain& d, Vcpu& v, bool preemptible) {
  if (!preemptible) {
    put_page_and_type(old, d);
    return abi::err::kOk;
  }
  if (put_page_and_type_preemptible(old, d) != abi::err::kERESTART) return abi::err::kOk;
  v.old_guest_table = old;
  v.old_guest_table_partial = true;
  return abi::err::kERESTART;
}

// MMUEXT_CLEAR_PAGE / MMUEXT_COPY_PAGE on frames of `owner`.
int64_t Hypervisor::clear_or_copy_page(const abi::MmuextOp& op, Domain& owner) {
  const Mfn mfn{op.arg1};
  // Xen writes the destination through its own mapping: it must be writable-typed.
  if (get_page_and_type(mfn, owner, PageType::kWritable) != abi::err::kOk) {
    return abi::err::kEINVAL;
  }
  int64_t rc = abi::err::kOk;
  if (op.cmd == abi::kMmuextClearPage) {
    mem_.zero_frame(mfn);
  } else {
    const Mfn src{op.arg2};
    if (get_page(src, owner)) {
      mem_.copy_frame(mfn, src);
      put_page(src);
    } else {
      rc = abi::err::kEINVAL;
    }
  }
  put_page_and_type(mfn, owner);
  return rc;
}

// The commands of Xen's own mmuext_op, which check the page owner; the others (14, the
// validation policy's interface, anything unknown) go to the dispatcher's default.
bool Hypervisor::is_xen_mmuext(uint32_t cmd) {
  return cmd <= abi::kMmuextUnmarkSuper && cmd != abi::kMmuextUnassigned14;
}

int64_t Hypervisor::do_one_mmuext(const abi::MmuextOp& op, Domain& d, Vcpu& v, DomId pg_owner) {
  const Mfn mfn{op.arg1};
  const uint64_t here = uint64_t{1} << current_pcpu_;
  // Pins, unpins and the page clear/copy take their frames from the page owner (a control
  // domain building another domain pins that domain's tables, which are validated as the
  // owner's); DOMID_IO and DOMID_XEN own none a guest can name (get_page_from_gfn fails:
  // -EINVAL). Every other op concerns the caller itself and is refused for a foreign owner.
  Domain* owner = page_owner(pg_owner, d);
  switch (op.cmd) {
    case abi::kMmuextPinL1Table:
    case abi::kMmuextPinL2Table:
    case abi::kMmuextPinL3Table:
    case abi::kMmuextPinL4Table:
      if (owner == nullptr) return abi::err::kEINVAL;
      return pin_table(mfn, pt_type_of_level(op.cmd + 1), *owner, true);
    case abi::kMmuextUnpinTable:
      if (owner == nullptr) return abi::err::kEINVAL;
      return unpin_table(mfn, *owner, v);
    case abi::kMmuextClearPage:
    case abi::kMmuextCopyPage:
      if (owner == nullptr) return abi::err::kEINVAL;
      return clear_or_copy_page(op, *owner);
    case abi::kMmuextMarkSuper:
    case abi::kMmuextUnmarkSuper:
      // PV superpages: disabled by default in the paper era, removed in 4.10.
      return params_.generation == XenGeneration::kModern ? abi::err::kEOPNOTSUPP
                                                          : abi::err::kENOSYS;
    default:
      break;
  }
  if (pg_owner != d.id && is_xen_mmuext(op.cmd)) return abi::err::kEPERM;
  switch (op.cmd) {
    case abi::kMmuextNewBaseptr:
      return new_guest_cr3(mfn, d, v, true);
    case abi::kMmuextNewUserBaseptr:
      return new_user_baseptr(mfn, d, v, true);
    case abi::kMmuextTlbFlushLocal:
      ledger_.charge(Event::kXenTlbFlushGuestReq);
      flush_mask(here);
      return abi::err::kOk;
    case abi::kMmuextTlbFlushMulti:
      ledger_.charge(Event::kXenTlbFlushGuestReq);
      flush_mask(vcpumask_to_pcpus(d, op.arg2));
      return abi::err::kOk;
    case abi::kMmuextTlbFlushAll:
      ledger_.charge(Event::kXenTlbFlushGuestReq);
      flush_mask(d.dirty_cpumask);
      return abi::err::kOk;
    case abi::kMmuextInvlpgLocal:
    case abi::kMmuextInvlpgMulti:
    case abi::kMmuextInvlpgAll: {
      // do_mmuext_op: an address Xen will not flush is ignored, not refused. INVLPG_LOCAL goes
      // through paging_invlpg (non-canonical: nothing); the MULTI/ALL forms check __addr_ok,
      // which also leaves out Xen's own range (L4 slots 256-271).
      const Vaddr va{op.arg1};
      const bool in_xen_range = hw::table_index(va, 4) >= kFirstXenSlot &&
                                hw::table_index(va, 4) <= kLastXenSlot && (va.value >> 63) != 0;
      if (!hw::is_canonical(va)) return abi::err::kOk;
      if (op.cmd != abi::kMmuextInvlpgLocal && in_xen_range) return abi::err::kOk;
      uint64_t mask = here;
      if (op.cmd == abi::kMmuextInvlpgMulti) mask = vcpumask_to_pcpus(d, op.arg2);
      if (op.cmd == abi::kMmuextInvlpgAll) mask = d.dirty_cpumask;
      invlpg_mask(mask, va);
      return abi::err::kOk;
    }
    case abi::kMmuextFlushCache:
      // WBINVD: caches are not modelled, so this only checks the permission Xen demands
      // (cache_flush_permitted), refused with -EACCES.
      return d.may_flush_cache() ? abi::err::kOk : abi::err::kEACCES;
    case abi::kMmuextFlushCacheGlobal:
      // The global form answers the same lack of permission with -EINVAL.
      return d.may_flush_cache() ? abi::err::kOk : abi::err::kEINVAL;
    default:
      // Commands of the validation policy's own interface (PiBooster's pool); SET_LDT and
      // unknown commands otherwise (segment descriptors are outside this model). The policy's
      // commands move the caller's own frames into or out of its own pool, like a base-pointer
      // load they concern the caller alone: with a foreign page owner (a control domain; XSM
      // refused anyone else already) they are refused as Xen refuses those (-EPERM).
      if (pg_owner != d.id) {
        return validation_->has_extension_op(op.cmd) ? abi::err::kEPERM : abi::err::kENOSYS;
      }
      return validation_->extension_op(*this, op.cmd, mfn, d, v.id).value_or(abi::err::kENOSYS);
  }
}

int64_t Hypervisor::mmuext_op(VcpuId vcpu, std::span<const abi::MmuextOp> ops, uint32_t* done,
                              abi::ForeignDom foreigndom) {
  hypercall_entry(vcpu);
  if (bounce_user_mode_hypercall(vcpu)) return abi::err::kBouncedToGuestKernel;
  ledger_.charge(Event::kXenHcMmuextOp);
  return with_continuations(ops, done, Event::kXenHcMmuextOp, Event::kXenMmuextRequeued,
                            [&](std::span<const abi::MmuextOp> left, uint32_t* part) {
                              return mmuext_op_body(vcpu, left, part, foreigndom);
                            });
}

int64_t Hypervisor::mmuext_op_body(VcpuId vcpu, std::span<const abi::MmuextOp> ops, uint32_t* done,
                                   abi::ForeignDom foreigndom) {
  Vcpu& v = port_vcpu(vcpu);
  Domain& d = port_dom();
  if (done != nullptr) *done = 0;
  // do_mmuext_op (4.17) first finishes a deferred put (preemptible), then checks the page owner
  // before its loop, whatever the ops.
  if (put_old_guest_table(v, d) == abi::err::kERESTART) return abi::err::kERESTART;
  // xsm_mmuext_op: a foreign page owner only for a control domain, with no DOMID_IO exception.
  DomId pg_owner = d.id;
  int64_t rc = get_pg_owner(abi::pg_owner_of(foreigndom), d, &pg_owner);
  if (rc == abi::err::kOk) rc = xsm_target(d, pg_owner);
  if (rc != abi::err::kOk) {
    ledger_.charge(Event::kXenHcFailed);
    return rc;
  }
  uint32_t i = 0;
  for (; i < ops.size(); ++i) {
    // A put deferred by the op before (a preempted unpin) ends the invocation; the
    // continuation's entry finishes it.
    if (v.old_guest_table && !continue_into_old_guest_table(v, d, Event::kXenHcMmuextOp)) {
      rc = abi::err::kERESTART;
      break;
    }
    if (i > 0 && hypercall_preempt_check()) {
      ledger_.charge(Event::kXenPreempted);
      rc = abi::err::kERESTART;
      break;
    }
    rc = do_one_mmuext(ops[i], d, v, pg_owner);
    // An op preempted part-way (a partial validation) is issued again by the continuation:
    // counted once, when it ends.
    if (rc != abi::err::kERESTART) ledger_.charge(Event::kXenMmuextOps);
    if (rc != abi::err::kOk) break;
    interleave(Step::kBetweenOps, Mfn{ops[i].arg1}, true);
  }
  // Still pending at the end (the last op's deferred put, a failed validation's teardown):
  // continuations finish it before the result is returned.
  if (rc != abi::err::kERESTART) finish_old_guest_table(v, d, Event::kXenHcMmuextOp);
  if (done != nullptr) *done = i;
  if (rc != abi::err::kOk && rc != abi::err::kERESTART) ledger_.charge(Event::kXenHcFailed);
  validation_->end_of_batch(*this, d, v.id);  // e.g. pool operations share one IOTLB invalidation
  return rc;
}

}  // namespace pib::xen

namespace pib::xen {

int64_t Hypervisor::builder_pin_and_install(Domain& d, Mfn l4) {
  const int64_t rc = pin_table(l4, PageType::kL4, d, false);
  if (rc != abi::err::kOk) return rc;
  for (Vcpu& v : d.vcpus) {
    current_pcpu_ = v.pcpu;
    v.in_kernel = true;
    const int64_t r = new_guest_cr3(l4, d, v, false);
    if (r != abi::err::kOk) return r;
  }
  frames_.compact();  // the last chunks of the direct map's frames (see validate_table)
  return abi::err::kOk;
}

}  // namespace pib::xen
