// SPDX-License-Identifier: MIT
// A HypervisorPort that forwards to the real one and, while a trace stream is set, prints every
// guest-to-Xen transition in order: hypercalls with their requests and operations, multicalls
// with their entries, and the trapped or bounced page faults of guest memory accesses (seen as
// the ledger's counters moving during the access).
#pragma once

#include <ostream>

#include "abi/port.hpp"
#include "sim/ledger.hpp"

namespace pib::system {

class TracingPort final : public abi::HypervisorPort {
 public:
  TracingPort(abi::HypervisorPort& inner, sim::Ledger& ledger) : inner_(inner), ledger_(ledger) {}
  void set_stream(std::ostream* out) {
    out_ = out;
    seq_ = 0;
  }

  int64_t mmu_update(VcpuId vcpu, std::span<const abi::MmuUpdate> reqs, uint32_t* done,
                     abi::ForeignDom foreigndom) override;
  int64_t mmuext_op(VcpuId vcpu, std::span<const abi::MmuextOp> ops, uint32_t* done,
                    abi::ForeignDom foreigndom) override;
  int64_t update_va_mapping(VcpuId vcpu, const abi::UpdateVaMapping& args) override;
  int64_t multicall(VcpuId vcpu, std::span<abi::MulticallEntry> entries) override;
  hw::MemResult guest_access(VcpuId vcpu, const hw::MemRequest& request) override;
  hw::LoadRun guest_load_run(VcpuId vcpu, Vaddr va, uint32_t count, uint64_t stop_mask,
                             uint64_t* out) override;
  hw::TakeRun guest_take_run(VcpuId vcpu, Vaddr va, uint32_t count, uint64_t mask,
                             hw::TakenWord* taken) override;
  int64_t switch_guest_mode(VcpuId vcpu, bool to_kernel) override;
  int64_t memory_op(VcpuId vcpu, uint32_t cmd, abi::MemoryReservation& reservation) override;
  int64_t vcpu_op(VcpuId vcpu, uint32_t cmd, uint64_t deadline_ns) override;
  int64_t sched_shutdown(VcpuId vcpu, uint32_t reason) override;
  uint64_t system_time_ns(VcpuId vcpu) const override { return inner_.system_time_ns(vcpu); }
  uint32_t take_pending_virqs(VcpuId vcpu) override { return inner_.take_pending_virqs(vcpu); }
  Pfn machine_to_phys(Mfn mfn) const override { return inner_.machine_to_phys(mfn); }

 private:
  std::ostream& line(VcpuId vcpu);
  void note_continuations(VcpuId vcpu, uint64_t before);

  abi::HypervisorPort& inner_;
  sim::Ledger& ledger_;
  std::ostream* out_ = nullptr;
  uint64_t seq_ = 0;
};

}  // namespace pib::system
