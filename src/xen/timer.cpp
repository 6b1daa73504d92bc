// SPDX-License-Identifier: MIT
// Time in the hypervisor: the vCPUs' one-shot timers (VCPUOP_set_singleshot_timer), the timer
// softirq that turns an expired one into VIRQ_TIMER, and hypercall preemption: a long hypercall
// stops between items once a softirq is pending (hypercall_preempt_check) and continues through a
// continuation, a re-entry with the items it has left.
#include "common/error.hpp"
#include "xen/hypervisor.hpp"

namespace pib::xen {

using sim::Event;

uint64_t Hypervisor::system_time_ns(VcpuId vcpu) const {
  const Domain& d = domain(port_domain_);
  if (vcpu >= d.vcpus.size()) throw InputError("no vcpu " + std::to_string(vcpu));
  return static_cast<uint64_t>(machine_.cpu(d.vcpus[vcpu].pcpu).now_ns());
}

uint32_t Hypervisor::take_pending_virqs(VcpuId vcpu) {
  Vcpu& v = port_vcpu(vcpu);
  const uint32_t virqs = v.pending_virqs;
  v.pending_virqs = 0;
  // The event upcall is delivered to the guest kernel: a vCPU interrupted in user mode is
  // switched to kernel mode by the bounce frame (toggle_guest_mode), at no extra entry.
  if (virqs != 0 && !v.in_kernel) toggle_guest_pt(v);
  return virqs;
}

int64_t Hypervisor::vcpu_op(VcpuId vcpu, uint32_t cmd, uint64_t deadline_ns) {
  hypercall_entry(vcpu);
  if (bounce_user_mode_hypercall(vcpu)) return abi::err::kBouncedToGuestKernel;
  ledger_.charge(Event::kXenHcVcpuOp);
  Vcpu& v = port_vcpu(vcpu);
  int64_t rc = abi::err::kOk;
  switch (cmd) {
    case abi::kVcpuOpSetSingleshotTimer:
      // A deadline already past fires at once (Linux 6.1 sets no VCPU_SSHOTTMR_future flag).
      v.singleshot_deadline = deadline_ns;
      break;
    case abi::kVcpuOpStopSingleshotTimer:
      v.singleshot_deadline = Vcpu::kNoDeadline;
      break;
    default:
      rc = abi::err::kENOSYS;  // the other vcpu_op commands are outside this model
      break;
  }
  if (rc != abi::err::kOk) ledger_.charge(Event::kXenHcFailed);
  program_timer(v.pcpu);
  do_softirq();
  return rc;
}

void Hypervisor::hypercall_entry(VcpuId vcpu) {
  running_vcpu(vcpu);  // its CPU is the current one
  // A shut-down domain's vCPUs are paused: one that makes a hypercall is a bug of the caller.
  if (port_dom().shutdown_reason) [[unlikely]]
    model_bug("a hypercall from a vCPU of a shut-down domain");
  // An interrupt that arrived while the guest ran was taken there, and its softirq ran on the
  // way back to the guest: it cannot preempt this hypercall.
  do_softirq();
  ledger_.charge(Event::kXenEntry);
}

void Hypervisor::program_timer(CpuId pcpu) {
  uint64_t earliest = Vcpu::kNoDeadline;
  for (const auto& d : domains_) {
    for (const Vcpu& v : d->vcpus) {
      if (v.pcpu == pcpu && v.singleshot_deadline < earliest) earliest = v.singleshot_deadline;
    }
  }
  hw::Cpu& cpu = machine_.cpu(pcpu);
  if (earliest == Vcpu::kNoDeadline) {
    cpu.disarm_timer();
  } else {
    cpu.set_timer_deadline(static_cast<double>(earliest));
  }
}

bool Hypervisor::hypercall_preempt_check() const {
  return ledger_.clock_on() && machine_.cpu(current_pcpu_).timer_interrupt_pending();
}

void Hypervisor::do_softirq() {
  if (!ledger_.clock_on()) return;  // no clock: no timer ever fires (a fast path, not a rule)
  hw::Cpu& cpu = machine_.cpu(current_pcpu_);
  if (!cpu.timer_interrupt_pending()) return;
  ledger_.charge(Event::kXenTimerInterrupts);
  const auto now = static_cast<uint64_t>(cpu.now_ns());
  for (const auto& d : domains_) {
    for (Vcpu& v : d->vcpus) {
      if (v.pcpu != current_pcpu_ || v.singleshot_deadline > now) continue;
      v.singleshot_deadline = Vcpu::kNoDeadline;
      v.pending_virqs |= 1U << abi::kVirqTimer;
    }
  }
  program_timer(current_pcpu_);
}

void Hypervisor::reenter_preempted(Event hypercall, Event requeued, uint64_t left) {
  // Back to the guest first (softirqs run there), which then re-executes the hypercall with the
  // arguments Xen rewrote: the rest of its items.
  do_softirq();
  interleave(Step::kContinuation, kInvalidMfn);
  charge_continuation(hypercall);
  ledger_.charge(requeued, left);
}

}  // namespace pib::xen
