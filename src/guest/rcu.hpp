// SPDX-License-Identifier: MIT
// Read-copy-update, reduced to what page-table freeing needs: call_rcu callbacks that run only
// after a grace period, i.e. after every vCPU has passed a quiescent state since the callback
// was queued (Linux's tree RCU: a context switch, execution in user mode, or the idle loop).
//
// Xen PV Linux frees page-table pages this way (tlb_remove_table with
// MMU_GATHER_RCU_TABLE_FREE): a lockless walker (GUP-fast) on another vCPU may still be reading
// a table the moment it is unlinked, and Xen's TLB-flush hypercall does not wait for the guest
// to have interrupts enabled the way a native flush IPI does.
//
// The model reports a quiescent state at the moment the vCPU passes it, so a grace period here
// ends at the earliest point Linux's rules allow (real kernels notice quiescent states at the
// scheduler tick and end grace periods milliseconds later): reuse distances measured with it
// are lower bounds. Only bookkeeping lives here; KernelCore runs the callbacks that are ready.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "common/types.hpp"

namespace pib::guest {

class Rcu {
 public:
  using Callback = std::function<void()>;
  struct Ready {
    VcpuId cpu;  // where call_rcu queued it (the callback runs there, in softirq context)
    Callback fn;
  };

  explicit Rcu(uint32_t nr_cpus);
  // A vCPU in the idle loop is in an extended quiescent state: no grace period waits for it.
  void set_idle_predicate(std::function<bool(VcpuId)> is_idle) { is_idle_ = std::move(is_idle); }

  // call_rcu on `cpu`: `fn` runs after a grace period that began after this call.
  void call(VcpuId cpu, Callback fn);
  // `cpu` passed a quiescent state. Returns the callbacks whose grace period has now ended, in
  // the order they were queued; the caller runs them.
  std::vector<Ready> quiescent(VcpuId cpu);

  std::size_t pending() const { return callbacks_.size(); }
  uint64_t completed() const { return completed_; }  // grace periods ended so far
  bool in_progress() const { return gp_active_; }

 private:
  struct Waiting {
    uint64_t needs;  // the number of the grace period that must have completed
    VcpuId cpu;
    Callback fn;
  };
  void start_grace_period();
  void note_idle_cpus();

  uint32_t nr_cpus_;
  std::function<bool(VcpuId)> is_idle_;
  uint64_t completed_ = 0;
  bool gp_active_ = false;
  uint64_t waiting_on_ = 0;  // bit per vCPU that has not passed a quiescent state yet
  std::deque<Waiting> callbacks_;
};

}  // namespace pib::guest
