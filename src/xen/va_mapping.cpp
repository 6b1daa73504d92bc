// SPDX-License-Identifier: MIT
// update_va_mapping (__do_update_va_mapping) and multicall (do_multicall).
#include "common/error.hpp"
#include "xen/hypervisor.hpp"

namespace pib::xen {

using hw::Pte;
using sim::Event;

Mfn Hypervisor::map_guest_l1e(Vaddr va, Vcpu& v, Domain& d) {
  // Xen reads the L2 entry covering `va` through its linear page table (the self-map in L4 slot
  // 258) on the current CPU, so a stale TLB entry for that linear address is used as is — the
  // reason for the XSA-286 flush.
  const Vaddr linear_l2e = hw::make_vaddr(kLinearSlot, kLinearSlot, hw::table_index(va, 4),
                                          hw::table_index(va, 3), hw::table_index(va, 2) * 8);
  const hw::Translation t =
      machine_.cpu(v.pcpu).mmu().translate(linear_l2e, hw::Access::kRead, hw::Mode::kSupervisor);
  if (!t.ok) return kInvalidMfn;
  const Pte l2e{mem_.read_u64(t.ma)};
  if (!l2e.present() || l2e.has(hw::pte_bits::kPse)) return kInvalidMfn;
  const Mfn l1 = l2e.mfn();
  if (!frames_.valid(l1)) return kInvalidMfn;
  const PageInfo& pg = frames_[l1];
  if (pg.owner != d.id || pg.type != PageType::kL1 || pg.type_count == 0 || !pg.validated) {
    return kInvalidMfn;  // page_lock() of a non-L1 frame fails
  }
  return l1;
}

int64_t Hypervisor::update_va_mapping(VcpuId vcpu, const abi::UpdateVaMapping& args) {
  hypercall_entry(vcpu);
  if (bounce_user_mode_hypercall(vcpu)) return abi::err::kBouncedToGuestKernel;
  ledger_.charge(Event::kXenHcUpdateVaMapping);
  const int64_t rc = update_va_mapping_body(vcpu, args);
  do_softirq();
  return rc;
}

int64_t Hypervisor::update_va_mapping_body(VcpuId vcpu, const abi::UpdateVaMapping& args) {
  Vcpu& v = port_vcpu(vcpu);
  Domain& d = port_dom();
  // XSA-279: a non-canonical address must be refused before any flush is attempted.
  if (!hw::is_canonical(args.va) || !v.in_kernel || v.guest_table == kInvalidMfn) {
    ledger_.charge(Event::kXenHcFailed);
    return abi::err::kEINVAL;
  }
  put_old_guest_table(v, d, false);  // never pending between hypercalls in the model
  const Mfn l1 = map_guest_l1e(args.va, v, d);
  if (l1 == kInvalidMfn) {
    ledger_.charge(Event::kXenHcFailed);
    return abi::err::kEINVAL;
  }
  const int64_t rc = mod_l1_entry(l1, hw::table_index(args.va, 1), Pte{args.val}, d, false, d.id);
  if (rc != abi::err::kOk) {
    ledger_.charge(Event::kXenHcFailed);
    return rc;
  }
  const uint64_t kind = args.flags & abi::kUvmfFlushTypeMask;
  if (kind == abi::kUvmfNone) return abi::err::kOk;
  uint64_t mask = uint64_t{1} << current_pcpu_;
  if (args.flags & abi::kUvmfAll) mask = d.dirty_cpumask;
  if (args.flags & abi::kUvmfMulti) mask = vcpumask_to_pcpus(d, args.vcpumask);
  if (kind == abi::kUvmfTlbFlush) {
    ledger_.charge(Event::kXenTlbFlushGuestReq);
    flush_mask(mask);
  } else if (kind == abi::kUvmfInvlpg) {
    invlpg_mask(mask, args.va);
  }
  return abi::err::kOk;
}

int64_t Hypervisor::multicall(VcpuId vcpu, std::span<abi::MulticallEntry> entries) {
  hypercall_entry(vcpu);
  if (bounce_user_mode_hypercall(vcpu)) return abi::err::kBouncedToGuestKernel;
  ledger_.charge(Event::kXenHcMulticall);
  ledger_.charge(Event::kXenMulticallEntries, entries.size());
  int64_t rc = abi::err::kOk;
  std::size_t next = multicall_body(vcpu, entries, &rc);
  while (next < entries.size()) {
    reenter_preempted(Event::kXenHcMulticall, Event::kXenMulticallRequeued, entries.size() - next);
    next += multicall_body(vcpu, entries.subspan(next), &rc);
  }
  do_softirq();
  return rc;
}

std::size_t Hypervisor::multicall_body(VcpuId vcpu, std::span<abi::MulticallEntry> entries,
                                       int64_t* rc) {
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i > 0 && hypercall_preempt_check()) {
      ledger_.charge(Event::kXenPreempted);
      return i;
    }
    abi::MulticallEntry& e = entries[i];
    const int64_t result = multicall_entry(vcpu, e);
    if (result == abi::err::kERESTART) return i;  // the entry now holds what its sub-call has left
    // XSA-213: an iret ends the batch (and its result is the multicall's); once the vCPU is in
    // user mode, later entries must not run with user-mode state.
    if (e.op == abi::HypercallNr::kIret) {
      *rc = result;
      return entries.size();
    }
    if (!port_vcpu(vcpu).in_kernel) return entries.size();
  }
  return entries.size();
}

int64_t Hypervisor::multicall_entry(VcpuId vcpu, abi::MulticallEntry& e) {
  uint32_t done = 0;
  switch (e.op) {
    case abi::HypercallNr::kMmuUpdate:
      ledger_.charge(Event::kXenHcMmuUpdate);
      ledger_.charge(Event::kXenMcSubMmuUpdate);
      ledger_.charge(Event::kXenMcMmuUpdateRequests, e.mmu_updates.size());
      e.result = mmu_update_body(vcpu, e.mmu_updates, &done, e.foreigndom);
      if (e.result == abi::err::kERESTART) {
        keep_items_left(e.mmu_updates, done, Event::kXenMmuUpdateRequeued);
      }
      break;
    case abi::HypercallNr::kMmuextOp:
      ledger_.charge(Event::kXenHcMmuextOp);
      ledger_.charge(Event::kXenMcSubMmuextOp);
      ledger_.charge(Event::kXenMcMmuextOps, e.mmuext_ops.size());
      e.result = mmuext_op_body(vcpu, e.mmuext_ops, &done, e.foreigndom);
      if (e.result == abi::err::kERESTART) {
        keep_items_left(e.mmuext_ops, done, Event::kXenMmuextRequeued);
      }
      break;
    case abi::HypercallNr::kUpdateVaMapping:
      ledger_.charge(Event::kXenHcUpdateVaMapping);
      ledger_.charge(Event::kXenMcSubUpdateVaMapping);
      e.result = update_va_mapping_body(vcpu, e.uvm);
      break;
    case abi::HypercallNr::kMulticall:
      e.result = abi::err::kEINVAL;  // multicalls do not nest
      break;
    case abi::HypercallNr::kVcpuOp:
      e.result = abi::err::kENOSYS;  // timers are programmed directly, never batched here
      break;
    case abi::HypercallNr::kIret:
      e.result = switch_mode_body(vcpu, false);
      break;
    default:
      // The hypercall table has no such entry: the dispatcher's -ENOSYS lands in the result.
      e.result = abi::err::kENOSYS;
      break;
  }
  return e.result;
}

}  // namespace pib::xen
