// SPDX-License-Identifier: MIT
// Tasks, scheduling (address-space switches on a vCPU) and process memory accesses.
#include "guest/kernel.hpp"

#include <string>

#include "common/error.hpp"
#include "guest/pgtable.hpp"

namespace pib::guest {

Kernel::Kernel(PvOps& ops, sim::Ledger& ledger)
    : core_(ops, ledger), cache_(core_), current_(core_.nr_cpus()), in_user_(core_.nr_cpus()) {
  ops.attach(core_);
  core_.leave_mm = [this](VcpuId v) { leave_mm(v); };
  // RCU's extended quiescent state: a vCPU with nothing to run sits in the idle loop (the vCPU
  // executing kernel code now is not idle, even between an exit and the next switch).
  core_.rcu().set_idle_predicate(
      [this](VcpuId v) { return !current_.at(v).has_value() && v != core_.cpu(); });
  // The shared zero page that read faults on anonymous memory map.
  zero_page_ = core_.alloc_page(true);
}

const Task& Kernel::task(Pid pid) const {
  auto it = tasks_.find(pid);
  if (it == tasks_.end()) throw InputError("no process " + std::to_string(pid));
  return it->second;
}

Task& Kernel::task_mut(Pid pid) {
  auto it = tasks_.find(pid);
  if (it == tasks_.end() || !it->second.alive) {
    throw InputError("no live process " + std::to_string(pid));
  }
  return it->second;
}

std::vector<Pid> Kernel::live_pids() const {
  std::vector<Pid> out;
  for (const auto& [pid, t] : tasks_) {
    if (t.alive) out.push_back(pid);
  }
  return out;
}

// ---- scheduling -----------------------------------------------------------------------------

void Kernel::switch_mm(const Mm* next) {
  // switch_mm_irqs_off: nothing to do when the vCPU already has this mm loaded.
  const VcpuId v = core_.cpu();
  const Mm* prev = core_.loaded_mm(v);
  const Mm* target = next != nullptr ? next : &core_.init_mm();
  if (prev == target) return;
  core_.ledger().charge(sim::Event::kGuestContextSwitch);
  const uint64_t bit = uint64_t{1} << v;
  if (prev != &core_.init_mm()) const_cast<Mm*>(prev)->cpumask &= ~bit;
  if (target != &core_.init_mm()) const_cast<Mm*>(target)->cpumask |= bit;
  core_.set_loaded_mm(v, target);
  core_.ops().write_cr3(target == &core_.init_mm() ? nullptr : target);
}

void Kernel::leave_mm(VcpuId v) {
  const VcpuId self = core_.cpu();
  core_.set_cpu(v);
  switch_mm(nullptr);
  core_.set_cpu(self);
}

void Kernel::enter(Task& t) {
  // The return to user mode before this call, or the call into the scheduler, is where a task
  // woken meanwhile takes the vCPU.
  preempt_point(t.cpu);
  core_.set_cpu(t.cpu);
  const bool from_user = in_user_.at(t.cpu);
  if (from_user) {  // a system call
    core_.ledger().charge(sim::Event::kGuestKernelEntry);
    in_user_[t.cpu] = false;
  }
  core_.ops().enter_kernel(t.cpu);
  auto& cur = current_.at(t.cpu);
  if (cur && *cur == t.pid) {
    if (from_user) core_.rcu_quiescent(t.cpu);  // it ran user code: a quiescent state
    return;
  }
  // Context switch on this vCPU (arch_start/end_context_switch batch the CR3 write).
  core_.ops().start_context_switch();
  if (t.mm) switch_mm(t.mm.get());
  core_.ops().end_context_switch();
  cur = t.pid;
  core_.rcu_quiescent(t.cpu);  // rcu_note_context_switch
  std::vector<std::shared_ptr<Mm>> zombies;
  zombies.swap(zombies_);
  for (auto& mm : zombies) mmdrop_if_unused(mm);
}

void Kernel::schedule(Pid pid) {
  enter(task_mut(pid));
}

void Kernel::migrate(Pid pid, VcpuId cpu) {
  if (cpu >= core_.nr_cpus()) throw InputError("no vCPU " + std::to_string(cpu));
  Task& t = task_mut(pid);
  if (t.cpu == cpu) return;
  // The old vCPU goes idle and keeps the mm loaded lazily, as Linux's lazy TLB does.
  if (current_.at(t.cpu) == pid) current_[t.cpu].reset();
  t.cpu = cpu;
}

void Kernel::enter_interrupt(VcpuId cpu) {
  if (cpu >= core_.nr_cpus()) throw InputError("no vCPU " + std::to_string(cpu));
  core_.set_cpu(cpu);
  if (in_user_.at(cpu)) {
    core_.ledger().charge(sim::Event::kGuestKernelEntry);
    in_user_[cpu] = false;
    core_.rcu_quiescent(cpu);  // interrupted in user mode (rcu_sched_clock_irq's user check)
  }
  core_.ops().enter_kernel(cpu);
}

void Kernel::stop_machine(const std::function<void()>& fn) {
  for (VcpuId v = 0; v < core_.nr_cpus(); ++v) enter_interrupt(v);  // the stopper thread's IPI
  core_.set_cpu(0);
  fn();
}

void Kernel::quiesce() {
  const VcpuId self = core_.cpu();
  for (VcpuId v = 0; v < core_.nr_cpus(); ++v) {
    if (current_.at(v)) continue;
    core_.set_cpu(v);
    in_user_[v] = false;  // the vCPU idles in the kernel
    core_.ops().enter_kernel(v);
    switch_mm(nullptr);
  }
  core_.set_cpu(self);
  for (VcpuId v = 0; v < core_.nr_cpus(); ++v) {
    if (!current_.at(v)) core_.rcu_quiescent(v);  // the idle loop
  }
  std::vector<std::shared_ptr<Mm>> zombies;
  zombies.swap(zombies_);
  for (auto& mm : zombies) mmdrop_if_unused(mm);
}

void Kernel::mmdrop_if_unused(const std::shared_ptr<Mm>& mm) {
  if (mm->users != 0) return;
  if (mm->cpumask != 0) {  // still loaded lazily somewhere: freed after that vCPU switches away
    zombies_.push_back(mm);
    return;
  }
  for (VcpuId v = 0; v < core_.nr_cpus(); ++v) {
    if (core_.loaded_mm(v) == mm.get()) {
      zombies_.push_back(mm);
      return;
    }
  }
  if (mm->pgd != kInvalidPfn) pgd_free(*mm);
}

// ---- process memory accesses
// ----------------------------------------------------------------------

std::optional<uint64_t> Kernel::user_access(Pid pid, const hw::MemRequest& request) {
  Task& t = task_mut(pid);
  // A process already running in user mode just touches its memory; otherwise the kernel
  // schedules it first (and returns to user mode below).
  const bool running = current_.at(t.cpu) == pid && in_user_.at(t.cpu);
  if (!running) enter(t);
  core_.set_cpu(t.cpu);
  hw::Access kind = hw::Access::kRead;
  if (request.op == hw::MemOp::kStore) kind = hw::Access::kWrite;
  if (request.op == hw::MemOp::kFetch) kind = hw::Access::kExecute;
  // A faulting access is retried after the handler fixed the mapping; three rounds cover a
  // fault that first needs a page and then a write upgrade.
  for (int attempt = 0; attempt < 3; ++attempt) {
    // Exit to user mode: a task woken meanwhile runs first, then this one is switched back in.
    preempt_point(t.cpu);
    if (current_.at(t.cpu) != pid) enter(t);
    core_.set_cpu(t.cpu);
    // The way out to user mode: no read-side section spans it, so it is a quiescent state
    // (ready callbacks run first, in kernel mode, as pending softirqs do).
    core_.rcu_quiescent(t.cpu);
    core_.ops().return_to_user(t.cpu);
    in_user_[t.cpu] = true;
    hw::MemRequest r = request;
    r.mode = hw::Mode::kUser;
    const hw::MemResult res = core_.ops().access(t.cpu, r);
    if (res.ok) return res.value;
    core_.ops().fault_delivered(t.cpu);  // the exception entered the kernel
    core_.ledger().charge(sim::Event::kGuestKernelEntry);
    in_user_[t.cpu] = false;
    if (!handle_mm_fault(*t.mm, request.va, kind)) return std::nullopt;
  }
  model_bug("a process access kept faulting after the fault was handled");
}

std::optional<uint64_t> Kernel::load(Pid pid, uint64_t va) {
  return user_access(pid, hw::MemRequest{Vaddr{va}, hw::MemOp::kLoad});
}

bool Kernel::store(Pid pid, uint64_t va, uint64_t value) {
  return user_access(pid, hw::MemRequest{Vaddr{va}, hw::MemOp::kStore, hw::Mode::kUser, value})
      .has_value();
}

bool Kernel::fetch(Pid pid, uint64_t va) {
  return user_access(pid, hw::MemRequest{Vaddr{va}, hw::MemOp::kFetch}).has_value();
}

hw::Pte Kernel::pte_of(Pid pid, uint64_t va) {
  Task& t = task_mut(pid);
  enter(t);
  PageTables pt(core_);
  const auto e = pt.lookup(*t.mm, Vaddr{va});
  return e ? core_.read_entry(*e) : hw::Pte{};
}

}  // namespace pib::guest
