// SPDX-License-Identifier: MIT
// Time in the guest kernel: the periodic scheduler tick, timed sleeps of polling daemons, the
// timer interrupt handler and the points where a woken daemon gets the vCPU. The clock event
// device (Xen's one-shot timer or the local APIC timer) holds one deadline per vCPU, the earliest
// pending expiry, as Linux's hrtimer code keeps it (kernel/time/hrtimer.c, tick-sched.c).
#include <limits>
#include <string>

#include "common/error.hpp"
#include "guest/kernel.hpp"

namespace pib::guest {

namespace {
constexpr uint64_t kNoDeadline = std::numeric_limits<uint64_t>::max();
}

void Kernel::start_tick(uint32_t hz) {
  if (hz == 0) throw InputError("the tick needs a frequency above 0 Hz");
  tick_ns_ = 1'000'000'000ULL / hz;
  const uint32_t n = core_.nr_cpus();
  next_tick_.assign(n, kNoDeadline);
  programmed_.assign(n, kNoDeadline);
  need_resched_.assign(n, false);
  core_.set_interrupt_handler([this](VcpuId v) { timer_interrupt(v); });
  const VcpuId self = core_.cpu();
  for (VcpuId v = 0; v < n; ++v) {
    core_.set_cpu(v);
    next_tick_[v] = core_.ops().clock_ns(v) + tick_ns_;
    program_next_event(v);
  }
  core_.set_cpu(self);
}

void Kernel::poll_periodically(Pid pid, uint64_t period_ns) {
  if (tick_ns_ == 0) throw InputError("timed sleeps need the tick (start_tick) first");
  if (period_ns == 0) throw InputError("a poll period must be above 0 ns");
  const Task& t = task(pid);
  Poller p;
  p.pid = pid;
  p.period_ns = period_ns;
  p.wake_at = core_.ops().clock_ns(t.cpu) + period_ns;
  pollers_.push_back(p);
  if (current_.at(t.cpu) == pid) current_[t.cpu].reset();  // it sleeps: off the vCPU
  const VcpuId self = core_.cpu();
  core_.set_cpu(t.cpu);
  program_next_event(t.cpu);
  core_.set_cpu(self);
}

void Kernel::program_next_event(VcpuId v) {
  uint64_t deadline = next_tick_.at(v);
  for (const Poller& p : pollers_) {
    if (!p.woken && task(p.pid).cpu == v && p.wake_at < deadline) deadline = p.wake_at;
  }
  if (deadline == programmed_[v] || deadline == kNoDeadline) return;
  programmed_[v] = deadline;
  core_.ops().set_timer(v, deadline);
}

void Kernel::timer_interrupt(VcpuId v) {
  core_.ops().take_timer_interrupt(v);
  core_.ledger().charge(sim::Event::kGuestTimerInterrupts);
  programmed_.at(v) = kNoDeadline;  // a one-shot device: it fired
  const uint64_t now = core_.ops().clock_ns(v);
  // The tick's hrtimer is forwarded over every period that has passed (hrtimer_forward): a tick
  // handled late does not shift the ones after it.
  while (next_tick_[v] <= now) next_tick_[v] += tick_ns_;
  for (Poller& p : pollers_) {
    if (p.woken || task(p.pid).cpu != v || p.wake_at > now) continue;
    p.woken = true;
    core_.ledger().charge(sim::Event::kGuestWakeups);
    // The woken task slept long: CFS lets it preempt the running one.
    need_resched_[v] = true;
  }
  program_next_event(v);
}

void Kernel::preempt_point(VcpuId v) {
  if (need_resched_.empty() || !need_resched_.at(v)) return;
  need_resched_[v] = false;
  for (Poller& p : pollers_) {
    if (!p.woken || task(p.pid).cpu != v) continue;
    // The daemon runs: its poll() returns to user mode, it drains what it waits for and polls
    // again. Its timeout starts from now.
    Task& t = task_mut(p.pid);
    enter(t);
    core_.ops().return_to_user(v);
    in_user_[v] = true;
    enter(t);  // its next poll(): a system call
    p.woken = false;
    p.wake_at = core_.ops().clock_ns(v) + p.period_ns;
    current_[v].reset();  // asleep again: whoever runs next switches from it
    program_next_event(v);
  }
}

}  // namespace pib::guest
