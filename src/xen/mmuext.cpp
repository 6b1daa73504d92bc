// SPDX-License-Identifier: MIT
// The mmuext_op hypercall (do_mmuext_op): pin/unpin, base pointers, guest-requested TLB
// maintenance, and the page clear/copy helpers.
#include "common/error.hpp"
#include "xen/hypervisor.hpp"

namespace pib::xen {

using sim::Event;

int64_t Hypervisor::pin_table(Mfn mfn, PageType type, Domain& d) {
  const int64_t rc = get_page_and_type(mfn, d, type);
  if (rc != abi::err::kOk) return rc;
  PageInfo& pg = frames_[mfn];
  if (pg.pinned) {  // "mfn already pinned"
    put_page_and_type(mfn, d);
    return abi::err::kEINVAL;
  }
  pg.pinned = true;
  ledger_.charge(Event::kXenPin);
  return abi::err::kOk;
}

int64_t Hypervisor::unpin_table(Mfn mfn, Domain& d) {
  if (!get_page(mfn, d)) return abi::err::kEINVAL;
  PageInfo& pg = frames_[mfn];
  if (!pg.pinned) {  // "mfn not pinned"
    put_page(mfn);
    return abi::err::kEINVAL;
  }
  pg.pinned = false;
  ledger_.charge(Event::kXenUnpin);
  put_page_and_type(mfn, d);  // the pin's references; may devalidate the whole subtree
  put_page(mfn);
  return abi::err::kOk;
}

int64_t Hypervisor::new_guest_cr3(Mfn mfn, Domain& d, Vcpu& v) {
  const int64_t rc = get_page_and_type(mfn, d, PageType::kL4);
  if (rc != abi::err::kOk) return rc;
  const Mfn old = v.guest_table;
  v.guest_table = mfn;
  ledger_.charge(Event::kXenNewBaseptr);
  if (v.in_kernel) write_ptbase(v, d);
  if (old != kInvalidMfn) put_page_and_type(old, d);
  return abi::err::kOk;
}

int64_t Hypervisor::new_user_baseptr(Mfn mfn, Domain& d, Vcpu& v) {
  if (mfn.value != 0) {
    const int64_t rc = get_page_and_type(mfn, d, PageType::kL4);
    if (rc != abi::err::kOk) return rc;
  }
  const Mfn old = v.guest_table_user;
  v.guest_table_user = mfn.value != 0 ? mfn : kInvalidMfn;
  ledger_.charge(Event::kXenNewUserBaseptr);  // loaded at the next switch to user mode
  if (old != kInvalidMfn) put_page_and_type(old, d);
  return abi::err::kOk;
}

int64_t Hypervisor::do_one_mmuext(const abi::MmuextOp& op, Domain& d, Vcpu& v) {
  const Mfn mfn{op.arg1};
  const uint64_t here = uint64_t{1} << current_pcpu_;
  switch (op.cmd) {
    case abi::kMmuextPinL1Table:
    case abi::kMmuextPinL2Table:
    case abi::kMmuextPinL3Table:
    case abi::kMmuextPinL4Table:
      return pin_table(mfn, pt_type_of_level(op.cmd + 1), d);
    case abi::kMmuextUnpinTable:
      return unpin_table(mfn, d);
    case abi::kMmuextNewBaseptr:
      return new_guest_cr3(mfn, d, v);
    case abi::kMmuextNewUserBaseptr:
      return new_user_baseptr(mfn, d, v);
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
    case abi::kMmuextClearPage:
    case abi::kMmuextCopyPage: {
      // Xen writes the destination through its own mapping: it must be writable-typed.
      if (get_page_and_type(mfn, d, PageType::kWritable) != abi::err::kOk) return abi::err::kEINVAL;
      int64_t rc = abi::err::kOk;
      if (op.cmd == abi::kMmuextClearPage) {
        mem_.zero_frame(mfn);
      } else {
        const Mfn src{op.arg2};
        if (get_page(src, d)) {
          mem_.copy_frame(mfn, src);
          put_page(src);
        } else {
          rc = abi::err::kEINVAL;
        }
      }
      put_page_and_type(mfn, d);
      return rc;
    }
    case abi::kMmuextMarkSuper:
    case abi::kMmuextUnmarkSuper:
      // PV superpages: disabled by default in the paper era, removed in 4.10.
      return params_.generation == XenGeneration::kModern ? abi::err::kEOPNOTSUPP
                                                          : abi::err::kENOSYS;
    default:
      // Commands of the validation policy's own interface (PiBooster's pool); SET_LDT and
      // unknown commands otherwise (segment descriptors are outside this model).
      return validation_->extension_op(*this, op.cmd, mfn, d, v.id).value_or(abi::err::kENOSYS);
  }
}

int64_t Hypervisor::mmuext_op(VcpuId vcpu, std::span<const abi::MmuextOp> ops, uint32_t* done,
                              DomId foreigndom) {
  hypercall_entry(vcpu);
  if (bounce_user_mode_hypercall(vcpu)) return abi::err::kBouncedToGuestKernel;
  ledger_.charge(Event::kXenHcMmuextOp);
  return with_continuations(ops, done, Event::kXenHcMmuextOp, Event::kXenMmuextRequeued,
                            [&](std::span<const abi::MmuextOp> left, uint32_t* part) {
                              return mmuext_op_body(vcpu, left, part, foreigndom);
                            });
}

int64_t Hypervisor::mmuext_op_body(VcpuId vcpu, std::span<const abi::MmuextOp> ops, uint32_t* done,
                                   DomId foreigndom) {
  Vcpu& v = port_vcpu(vcpu);
  Domain& d = port_dom();
  if (done != nullptr) *done = 0;
  run_deferred_put(v, d);
  // do_mmuext_op checks the page owner before its loop, whatever the ops.
  int64_t rc = check_pg_owner(foreigndom, d, true);
  if (rc != abi::err::kOk) {
    ledger_.charge(Event::kXenHcFailed);
    return rc;
  }
  uint32_t i = 0;
  for (; i < ops.size(); ++i) {
    if (i > 0 && hypercall_preempt_check()) {
      ledger_.charge(Event::kXenPreempted);
      rc = abi::err::kERESTART;
      break;
    }
    ledger_.charge(Event::kXenMmuextOps);
    rc = do_one_mmuext(ops[i], d, v);
    if (rc != abi::err::kOk) break;
    interleave(Step::kBetweenOps, Mfn{ops[i].arg1}, true);
  }
  if (done != nullptr) *done = i;
  if (rc != abi::err::kOk && rc != abi::err::kERESTART) ledger_.charge(Event::kXenHcFailed);
  validation_->end_of_batch(*this, d, v.id);  // e.g. pool operations share one IOTLB invalidation
  return rc;
}

}  // namespace pib::xen

namespace pib::xen {

int64_t Hypervisor::builder_pin_and_install(Domain& d, Mfn l4) {
  const int64_t rc = pin_table(l4, PageType::kL4, d);
  if (rc != abi::err::kOk) return rc;
  for (Vcpu& v : d.vcpus) {
    current_pcpu_ = v.pcpu;
    v.in_kernel = true;
    const int64_t r = new_guest_cr3(l4, d, v);
    if (r != abi::err::kOk) return r;
  }
  frames_.compact();  // the last chunks of the direct map's frames (see validate_table)
  return abi::err::kOk;
}

}  // namespace pib::xen
