// SPDX-License-Identifier: MIT
#include "guest/rcu.hpp"

#include "common/error.hpp"

namespace pib::guest {

Rcu::Rcu(uint32_t nr_cpus) : nr_cpus_(nr_cpus) {
  if (nr_cpus == 0 || nr_cpus > kMaxCpus) model_bug("rcu: vCPU count out of range");
}

void Rcu::call(VcpuId cpu, Callback fn) {
  // A grace period already running may have begun before a reader that still holds a
  // reference to what this callback frees: the callback waits for the next one.
  const uint64_t needs = completed_ + (gp_active_ ? 2 : 1);
  callbacks_.push_back(Waiting{needs, cpu, std::move(fn)});
  if (!gp_active_) start_grace_period();
}

void Rcu::start_grace_period() {
  gp_active_ = true;
  waiting_on_ = nr_cpus_ == 64 ? ~uint64_t{0} : (uint64_t{1} << nr_cpus_) - 1;
  note_idle_cpus();
}

void Rcu::note_idle_cpus() {
  if (!is_idle_) return;
  for (VcpuId v = 0; v < nr_cpus_; ++v) {
    if ((waiting_on_ >> v & 1) != 0 && is_idle_(v)) waiting_on_ &= ~(uint64_t{1} << v);
  }
}

std::vector<Rcu::Ready> Rcu::quiescent(VcpuId cpu) {
  std::vector<Ready> ready;
  if (!gp_active_) return ready;
  waiting_on_ &= ~(uint64_t{1} << cpu);
  note_idle_cpus();
  if (waiting_on_ != 0) return ready;
  gp_active_ = false;
  ++completed_;
  while (!callbacks_.empty() && callbacks_.front().needs <= completed_) {
    ready.push_back(Ready{callbacks_.front().cpu, std::move(callbacks_.front().fn)});
    callbacks_.pop_front();
  }
  if (!callbacks_.empty()) start_grace_period();
  return ready;
}

}  // namespace pib::guest
