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
  ledger_.charge(Event::kXenEntry);
  ledger_.charge(Event::kXenHcUpdateVaMapping);
  return update_va_mapping_body(vcpu, args);
}

int64_t Hypervisor::update_va_mapping_body(VcpuId vcpu, const abi::UpdateVaMapping& args) {
  Vcpu& v = port_vcpu(vcpu);
  Domain& d = port_dom();
  // XSA-279: a non-canonical address must be refused before any flush is attempted.
  if (!hw::is_canonical(args.va) || !v.in_kernel || v.guest_table == kInvalidMfn) {
    ledger_.charge(Event::kXenHcFailed);
    return abi::err::kEINVAL;
  }
  run_deferred_put(v, d);
  const Mfn l1 = map_guest_l1e(args.va, v, d);
  if (l1 == kInvalidMfn) {
    ledger_.charge(Event::kXenHcFailed);
    return abi::err::kEINVAL;
  }
  const int64_t rc = mod_l1_entry(l1, hw::table_index(args.va, 1), Pte{args.val}, d, false);
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
  ledger_.charge(Event::kXenEntry);
  ledger_.charge(Event::kXenHcMulticall);
  for (abi::MulticallEntry& e : entries) {
    ledger_.charge(Event::kXenMulticallEntries);
    uint32_t done = 0;
    switch (e.op) {
      case abi::HypercallNr::kMmuUpdate:
        ledger_.charge(Event::kXenHcMmuUpdate);
        ledger_.charge(Event::kXenMcSubMmuUpdate);
        ledger_.charge(Event::kXenMcMmuUpdateRequests, e.mmu_updates.size());
        e.result = mmu_update_body(vcpu, e.mmu_updates, &done, e.foreigndom);
        break;
      case abi::HypercallNr::kMmuextOp:
        ledger_.charge(Event::kXenHcMmuextOp);
        ledger_.charge(Event::kXenMcSubMmuextOp);
        ledger_.charge(Event::kXenMcMmuextOps, e.mmuext_ops.size());
        e.result = mmuext_op_body(vcpu, e.mmuext_ops, &done, e.foreigndom);
        break;
      case abi::HypercallNr::kUpdateVaMapping:
        ledger_.charge(Event::kXenHcUpdateVaMapping);
        ledger_.charge(Event::kXenMcSubUpdateVaMapping);
        e.result = update_va_mapping_body(vcpu, e.uvm);
        break;
      case abi::HypercallNr::kMulticall:
        e.result = abi::err::kEINVAL;  // multicalls do not nest
        break;
      case abi::HypercallNr::kIret:
        // XSA-213: once an iret has taken the vCPU to user mode the batch ends there; later
        // entries must not run with user-mode state.
        e.result = switch_mode_body(vcpu, false);
        return e.result;
    }
    if (!port_vcpu(vcpu).in_kernel) return abi::err::kOk;
  }
  return abi::err::kOk;
}

}  // namespace pib::xen
