// SPDX-License-Identifier: MIT
// The one interface through which a PV guest reaches the hypervisor. Implemented by the
// hypervisor model; called by guest kernels, the hypercall-script front end and attack tests.
// Every call is one guest-to-hypervisor transition; the hypervisor charges its own work.
#pragma once

#include <cstdint>
#include <span>

#include "abi/hypercall.hpp"
#include "hw/cpu.hpp"

namespace pib::abi {

class HypervisorPort {
 public:
  virtual ~HypervisorPort() = default;

  // Hypercalls. `done` receives the number of requests completed (partial success).
  // `foreigndom`: see abi::ForeignDom (mmuext_op reads its low 16 bits only).
  virtual int64_t mmu_update(VcpuId vcpu, std::span<const MmuUpdate> reqs, uint32_t* done,
                             ForeignDom foreigndom = kDomidSelf) = 0;
  virtual int64_t mmuext_op(VcpuId vcpu, std::span<const MmuextOp> ops, uint32_t* done,
                            ForeignDom foreigndom = kDomidSelf) = 0;
  virtual int64_t update_va_mapping(VcpuId vcpu, const UpdateVaMapping& args) = 0;
  virtual int64_t multicall(VcpuId vcpu, std::span<MulticallEntry> entries) = 0;
  // memory_op (abi::MemoryOpCmd): frames leave and enter a domain. The reservation commands
  // return how many extents of `reservation` were completed and may rewrite its extent list
  // (populate: the MFNs chosen); the statistics commands return a page count or an error.
  virtual int64_t memory_op(VcpuId vcpu, uint32_t cmd, MemoryReservation& reservation) = 0;
  // vcpu_op on the calling vCPU's one-shot timer (kVcpuOpSetSingleshotTimer with a deadline in
  // system time, or kVcpuOpStopSingleshotTimer).
  virtual int64_t vcpu_op(VcpuId vcpu, uint32_t cmd, uint64_t deadline_ns) = 0;
  // sched_op(SCHEDOP_shutdown, reason): the domain shuts down for that reason (kShutdown*).
  virtual int64_t sched_shutdown(VcpuId vcpu, uint32_t reason) = 0;

  // Shared-info reads, not hypercalls: the vCPU's system time (vcpu_time_info), and its pending
  // VIRQs as a bit set (1 << kVirqTimer ...), taken and cleared as the event upcall does. Taking
  // any in guest user mode is the upcall's delivery: the vCPU is then in kernel mode, and returns
  // to user mode with HYPERVISOR_iret (switch_guest_mode).
  virtual uint64_t system_time_ns(VcpuId vcpu) const = 0;
  virtual uint32_t take_pending_virqs(VcpuId vcpu) = 0;

  // Guest execution: a memory operation performed by the vCPU in its current guest mode (the
  // guest kernel of a 64-bit PV domain runs in ring 3, so every guest access is a user-mode
  // access). Page faults go to the hypervisor first, which emulates or reflects them.
  virtual hw::MemResult guest_access(VcpuId vcpu, const hw::MemRequest& request) = 0;
  // A run of guest loads (hw::Cpu::load_run): the same as that many guest_access loads of
  // consecutive words, one call. The run ends where one of those accesses' interrupt windows
  // would have work, so the caller's own window after the run is the one that load had.
  virtual hw::LoadRun guest_load_run(VcpuId vcpu, Vaddr va, uint32_t count, uint64_t stop_mask,
                                     uint64_t* out) = 0;
  // A take run of guest accesses (hw::Cpu::take_run): these guest_load_run and guest_access
  // calls, each with its interrupt window. This default makes exactly those calls; a port may
  // do the run in one call where none of the windows has work.
  virtual hw::TakeRun guest_take_run(VcpuId vcpu, Vaddr va, uint32_t count, uint64_t mask,
                                     hw::TakenWord* taken);

  // Guest kernel <-> guest user transitions (syscall entry / HYPERVISOR_iret): the hypervisor
  // switches the vCPU between its kernel and user root tables. Returns an error if no user root
  // table is installed.
  virtual int64_t switch_guest_mode(VcpuId vcpu, bool to_kernel) = 0;

  // The read-only machine-to-physical table Xen exposes to every PV guest.
  virtual Pfn machine_to_phys(Mfn mfn) const = 0;
};

}  // namespace pib::abi
