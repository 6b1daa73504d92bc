// SPDX-License-Identifier: MIT
// A domain shutting down (SCHEDOP_shutdown, common/sched/core.c and domain_shutdown in
// common/domain.c) and the toolstack's side of a save: resuming a suspended domain in place,
// and the pins and vCPU root tables of a restored one (xen/save_restore.cpp drives them).
#include <string>

#include "common/error.hpp"
#include "xen/hypervisor.hpp"

namespace pib::xen {

int64_t Hypervisor::sched_shutdown(VcpuId vcpu, uint32_t reason) {
  hypercall_entry(vcpu);
  if (bounce_user_mode_hypercall(vcpu)) return abi::err::kBouncedToGuestKernel;
  Domain& d = port_dom();
  // domain_shutdown takes the reason as a byte and keeps the first one given; the vCPUs are
  // paused (the guest's call "returns" only when the toolstack resumes or restores it).
  if (!d.shutdown_reason) d.shutdown_reason = reason & 0xff;
  return abi::err::kOk;
}

int64_t Hypervisor::resume_domain(DomId id) {
  Domain& d = domain(id);
  if (d.dying || d.shutdown_reason != abi::kShutdownSuspend) return abi::err::kEINVAL;
  d.shutdown_reason.reset();
  return abi::err::kOk;
}

int64_t Hypervisor::toolstack_pin(Domain& d, Mfn mfn, PageType type) {
  current_pcpu_ = d.vcpus.front().pcpu;
  current_vcpu_ = 0;
  return pin_table(mfn, type, d, false);
}

int64_t Hypervisor::toolstack_set_vcpu_tables(Domain& d, VcpuId vcpu, Mfn kernel, Mfn user,
                                              bool in_kernel) {
  if (vcpu >= d.vcpus.size()) throw InputError("restore: no vcpu " + std::to_string(vcpu));
  Vcpu& v = d.vcpus[vcpu];
  current_pcpu_ = v.pcpu;
  current_vcpu_ = vcpu;
  // Loaded when the vCPU is next scheduled (set_port_domain), in the mode it was saved in.
  v.in_kernel = false;
  int64_t rc = new_guest_cr3(kernel, d, v, false);
  if (rc == abi::err::kOk && user != kInvalidMfn) rc = new_user_baseptr(user, d, v, false);
  v.in_kernel = in_kernel;
  v.online = rc == abi::err::kOk;
  return rc;
}

}  // namespace pib::xen
