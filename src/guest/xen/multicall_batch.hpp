// SPDX-License-Identifier: MIT
// Linux's per-CPU multicall buffer (arch/x86/xen/multicalls.c): hypercalls are queued as entries
// and sent together. Limits: 32 entries, a 512-byte argument area shared by the whole batch (an
// entry or extension is accepted only while usage stays strictly below 512; mmu_update requests
// take 16 bytes, mmuext_op operations 24) and 32 post-flush callbacks; hitting any of them flushes
// first. A flush of one entry is issued as that hypercall directly, of two or more as one
// HYPERVISOR_multicall. Also holds the CPU's lazy mode (none, MMU, CPU).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "abi/port.hpp"
#include "hw/pte.hpp"
#include "sim/ledger.hpp"

namespace pib::guest {

class KernelCore;

enum class LazyMode : uint8_t { kNone = 0, kMmu = 1, kCpu = 2 };

class MulticallBatch {
 public:
  static constexpr std::size_t kMaxEntries = 32;  // MC_BATCH
  static constexpr std::size_t kArgBytes = 512;   // MC_ARGS
  static constexpr std::size_t kMaxCallbacks = 32;
  static constexpr std::size_t kMmuUpdateBytes = 16;  // sizeof(struct mmu_update)
  static constexpr std::size_t kMmuextOpBytes = 24;   // sizeof(struct mmuext_op)

  MulticallBatch(abi::HypervisorPort& port, sim::Ledger& ledger, VcpuId vcpu)
      : port_(port), ledger_(ledger), vcpu_(vcpu) {}

  // __xen_mc_entry: a new entry using `arg_bytes` of the argument area.
  abi::MulticallEntry& entry(abi::HypercallNr op, std::size_t arg_bytes);
  // xen_extend_mmu_update / xen_extend_mmuext_op: append to the previous entry when it is the
  // same hypercall and the argument area has room, else start a new entry.
  void extend_mmu_update(const abi::MmuUpdate& req);
  void extend_mmuext_op(const abi::MmuextOp& op);
  void update_va_mapping(Vaddr va, hw::Pte val, uint64_t flags);
  void mmuext_op(const abi::MmuextOp& op);  // a new single-op entry
  // xen_mc_callback: run after the batch holding it is flushed.
  void callback(std::function<void()> fn);

  // xen_mc_flush / xen_mc_issue(mode): flush now unless this CPU is in lazy mode `mode`.
  void flush();
  void issue(LazyMode mode);

  // The kernel whose interrupts a flush disables (xen_mc_flush runs under local_irq_save).
  void set_kernel(KernelCore* core) { core_ = core; }

  LazyMode lazy() const { return lazy_; }
  void set_lazy(LazyMode m) { lazy_ = m; }
  std::size_t pending() const { return entries_.size(); }

 private:
  abi::HypervisorPort& port_;
  sim::Ledger& ledger_;
  VcpuId vcpu_;
  std::vector<abi::MulticallEntry> entries_;
  std::vector<std::function<void()>> callbacks_;
  std::size_t arg_used_ = 0;
  LazyMode lazy_ = LazyMode::kNone;
  KernelCore* core_ = nullptr;
};

}  // namespace pib::guest
