// SPDX-License-Identifier: MIT
// Announcing an interleaving point: the observer runs "between" two steps of the current
// hypercall. What it does may move the hypervisor onto another vCPU (a reentrant point); the
// announcing hypercall resumes on its own vCPU and clock.
#include "xen/hypervisor.hpp"

namespace pib::xen {

void Hypervisor::announce(Step step, Mfn mfn, bool reentrant) {
  const CpuId pcpu = current_pcpu_;
  const VcpuId vcpu = current_vcpu_;
  const uint32_t clock = ledger_.cpu();
  ++announce_depth_;
  observer_->at(*this, InterleavingPoint{step, port_domain_, vcpu, mfn, reentrant});
  --announce_depth_;
  current_pcpu_ = pcpu;
  current_vcpu_ = vcpu;
  ledger_.set_cpu(clock);
}

}  // namespace pib::xen
