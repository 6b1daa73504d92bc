// SPDX-License-Identifier: MIT
#include "system/tracing_port.hpp"

#include <cstdio>
#include <string>

namespace pib::system {

namespace {

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string describe_ops(std::span<const abi::MmuextOp> ops) {
  std::string s;
  for (const auto& op : ops) {
    if (!s.empty()) s += ", ";
    s += abi::mmuext_name(op.cmd);
    if (op.cmd <= abi::kMmuextNewBaseptr || op.cmd == abi::kMmuextNewUserBaseptr ||
        op.cmd == abi::kMmuextPtPoolAdd || op.cmd == abi::kMmuextPtPoolRemove) {
      s += "(mfn " + hex(op.arg1) + ")";
    }
  }
  return s;
}

std::string describe_uvm(const abi::UpdateVaMapping& a) {
  std::string s = "update_va_mapping " + hex(a.va.value) + " -> ";
  s += (a.val & 1) == 0 ? "not present" : (a.val & 2) != 0 ? "RW" : "RO";
  if ((a.flags & abi::kUvmfFlushTypeMask) == abi::kUvmfTlbFlush) s += ", UVMF_TLB_FLUSH";
  if ((a.flags & abi::kUvmfFlushTypeMask) == abi::kUvmfInvlpg) s += ", UVMF_INVLPG";
  return s;
}

std::string describe_updates(std::span<const abi::MmuUpdate> reqs) {
  std::string s = "mmu_update x" + std::to_string(reqs.size());
  if (reqs.size() == 1) {
    s += " (entry " + hex(reqs[0].ptr & ~uint64_t{3}) +
         " := " + ((reqs[0].val & 1) ? hex(reqs[0].val) : std::string("0")) + ")";
  }
  return s;
}

}  // namespace

std::ostream& TracingPort::line(VcpuId vcpu) {
  return *out_ << "  #" << ++seq_ << " v" << vcpu << "  ";
}

int64_t TracingPort::mmu_update(VcpuId vcpu, std::span<const abi::MmuUpdate> reqs, uint32_t* done,
                                abi::ForeignDom foreigndom) {
  if (out_ != nullptr) line(vcpu) << describe_updates(reqs) << "\n";
  const uint64_t before = ledger_.count(sim::Event::kXenContinuation);
  const int64_t rc = inner_.mmu_update(vcpu, reqs, done, foreigndom);
  note_continuations(vcpu, before);
  return rc;
}

int64_t TracingPort::mmuext_op(VcpuId vcpu, std::span<const abi::MmuextOp> ops, uint32_t* done,
                               abi::ForeignDom foreigndom) {
  if (out_ != nullptr) line(vcpu) << "mmuext_op: " << describe_ops(ops) << "\n";
  const uint64_t before = ledger_.count(sim::Event::kXenContinuation);
  const int64_t rc = inner_.mmuext_op(vcpu, ops, done, foreigndom);
  note_continuations(vcpu, before);
  return rc;
}

int64_t TracingPort::update_va_mapping(VcpuId vcpu, const abi::UpdateVaMapping& args) {
  if (out_ != nullptr) line(vcpu) << describe_uvm(args) << "\n";
  return inner_.update_va_mapping(vcpu, args);
}

int64_t TracingPort::multicall(VcpuId vcpu, std::span<abi::MulticallEntry> entries) {
  if (out_ != nullptr) {
    line(vcpu) << "multicall, " << entries.size() << " entries:\n";
    for (const auto& e : entries) {
      *out_ << "         ";
      switch (e.op) {
        case abi::HypercallNr::kMmuUpdate:
          *out_ << describe_updates(e.mmu_updates);
          break;
        case abi::HypercallNr::kMmuextOp:
          *out_ << "mmuext_op: " << describe_ops(e.mmuext_ops);
          break;
        case abi::HypercallNr::kUpdateVaMapping:
          *out_ << describe_uvm(e.uvm);
          break;
        default:
          *out_ << "hypercall " << static_cast<uint32_t>(e.op);
          break;
      }
      *out_ << "\n";
    }
  }
  const uint64_t before = ledger_.count(sim::Event::kXenContinuation);
  const int64_t rc = inner_.multicall(vcpu, entries);
  note_continuations(vcpu, before);
  return rc;
}

hw::MemResult TracingPort::guest_access(VcpuId vcpu, const hw::MemRequest& request) {
  if (out_ == nullptr) return inner_.guest_access(vcpu, request);
  const uint64_t emulated = ledger_.count(sim::Event::kXenPtwrEmulated);
  const uint64_t bounced = ledger_.count(sim::Event::kXenFaultBounced);
  const hw::MemResult r = inner_.guest_access(vcpu, request);
  if (ledger_.count(sim::Event::kXenPtwrEmulated) != emulated) {
    line(vcpu) << "trap: write to a read-only L1 at " << hex(request.va.value)
               << ", emulated by Xen (ptwr)\n";
  }
  if (ledger_.count(sim::Event::kXenFaultBounced) != bounced) {
    line(vcpu) << "trap: page fault at " << hex(request.va.value) << " bounced to the guest\n";
  }
  return r;
}

hw::LoadRun TracingPort::guest_load_run(VcpuId vcpu, Vaddr va, uint32_t count, uint64_t stop_mask,
                                        uint64_t* out) {
  if (out_ == nullptr) return inner_.guest_load_run(vcpu, va, count, stop_mask, out);
  // Only the run's last load can have trapped (a fault ends the run).
  const uint64_t bounced = ledger_.count(sim::Event::kXenFaultBounced);
  const hw::LoadRun r = inner_.guest_load_run(vcpu, va, count, stop_mask, out);
  if (ledger_.count(sim::Event::kXenFaultBounced) != bounced) {
    line(vcpu) << "trap: page fault at " << hex(va.value + uint64_t{r.done - 1} * 8)
               << " bounced to the guest\n";
  }
  return r;
}

hw::TakeRun TracingPort::guest_take_run(VcpuId vcpu, Vaddr va, uint32_t count, uint64_t mask,
                                        hw::TakenWord* taken) {
  if (out_ == nullptr) return inner_.guest_take_run(vcpu, va, count, mask, taken);
  // Traced: access by access through this port, so that each trap is printed where it happens.
  return HypervisorPort::guest_take_run(vcpu, va, count, mask, taken);
}

int64_t TracingPort::switch_guest_mode(VcpuId vcpu, bool to_kernel) {
  return inner_.switch_guest_mode(vcpu, to_kernel);
}

int64_t TracingPort::memory_op(VcpuId vcpu, uint32_t cmd, abi::MemoryReservation& reservation) {
  if (out_ != nullptr) {
    line(vcpu) << "memory_op: cmd " << cmd << ", " << reservation.extent_start.size()
               << " extent(s) of order " << reservation.extent_order << "\n";
  }
  const uint64_t before = ledger_.count(sim::Event::kXenContinuation);
  const int64_t rc = inner_.memory_op(vcpu, cmd, reservation);
  note_continuations(vcpu, before);
  return rc;
}

int64_t TracingPort::vcpu_op(VcpuId vcpu, uint32_t cmd, uint64_t deadline_ns) {
  if (out_ != nullptr) {
    line(vcpu) << (cmd == abi::kVcpuOpSetSingleshotTimer
                       ? "vcpu_op: set_singleshot_timer at " + std::to_string(deadline_ns) + " ns"
                       : "vcpu_op: cmd " + std::to_string(cmd))
               << "\n";
  }
  return inner_.vcpu_op(vcpu, cmd, deadline_ns);
}

int64_t TracingPort::sched_shutdown(VcpuId vcpu, uint32_t reason) {
  if (out_ != nullptr) {
    line(vcpu) << "sched_op: shutdown, reason "
               << (reason == abi::kShutdownSuspend ? std::string("suspend")
                                                   : std::to_string(reason))
               << "\n";
  }
  return inner_.sched_shutdown(vcpu, reason);
}

void TracingPort::note_continuations(VcpuId vcpu, uint64_t before) {
  const uint64_t n = ledger_.count(sim::Event::kXenContinuation) - before;
  if (out_ != nullptr && n > 0) {
    line(vcpu) << "  (Xen preempted it: " << n << " re-entr" << (n == 1 ? "y" : "ies")
               << " through a continuation)\n";
  }
}

}  // namespace pib::system
