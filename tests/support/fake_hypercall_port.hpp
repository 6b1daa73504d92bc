// SPDX-License-Identifier: MIT
// A fake of the one interface the guest reaches the hypervisor through (abi::HypervisorPort),
// for guest unit tests that ask what the guest *sends*: it records every hypercall in order
// (with the operations of each multicall entry) and can refuse the next call of a kind with a
// chosen error, without the hypervisor seeing it. Everything it does not refuse goes to the
// port it wraps (the hypervisor model, so the guest's memory stays real).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "abi/port.hpp"

namespace pib::test {

class FakeHypercallPort final : public abi::HypervisorPort {
 public:
  struct Call {
    abi::HypercallNr op;
    std::vector<abi::MmuUpdate> mmu_updates;   // mmu_update
    std::vector<abi::MmuextOp> mmuext_ops;     // mmuext_op
    std::vector<abi::MulticallEntry> entries;  // multicall (as sent)
  };

  explicit FakeHypercallPort(abi::HypervisorPort& real) : real_(real) {}

  const std::vector<Call>& calls() const { return calls_; }
  void clear() { calls_.clear(); }
  // The next hypercall `op` (multicall sub-calls included) fails with `rc`.
  void refuse_next(abi::HypercallNr op, int64_t rc) { refusal_ = Refusal{op, rc}; }

  int64_t mmu_update(VcpuId vcpu, std::span<const abi::MmuUpdate> reqs, uint32_t* done,
                     abi::ForeignDom foreigndom) override {
    calls_.push_back(Call{abi::HypercallNr::kMmuUpdate, {reqs.begin(), reqs.end()}, {}, {}});
    if (auto rc = refused(abi::HypercallNr::kMmuUpdate, done)) return *rc;
    return real_.mmu_update(vcpu, reqs, done, foreigndom);
  }
  int64_t mmuext_op(VcpuId vcpu, std::span<const abi::MmuextOp> ops, uint32_t* done,
                    abi::ForeignDom foreigndom) override {
    calls_.push_back(Call{abi::HypercallNr::kMmuextOp, {}, {ops.begin(), ops.end()}, {}});
    if (auto rc = refused(abi::HypercallNr::kMmuextOp, done)) return *rc;
    return real_.mmuext_op(vcpu, ops, done, foreigndom);
  }
  int64_t update_va_mapping(VcpuId vcpu, const abi::UpdateVaMapping& args) override {
    calls_.push_back(Call{abi::HypercallNr::kUpdateVaMapping, {}, {}, {}});
    if (auto rc = refused(abi::HypercallNr::kUpdateVaMapping, nullptr)) return *rc;
    return real_.update_va_mapping(vcpu, args);
  }
  int64_t multicall(VcpuId vcpu, std::span<abi::MulticallEntry> entries) override {
    calls_.push_back(Call{abi::HypercallNr::kMulticall, {}, {}, {entries.begin(), entries.end()}});
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (!refusal_ || refusal_->op != entries[i].op) continue;
      // A failing entry does not stop a multicall: the others run, this one's result is the
      // error (the hypervisor sees the rest as two multicalls).
      const int64_t rc = refusal_->rc;
      refusal_.reset();
      if (i > 0) real_.multicall(vcpu, entries.first(i));
      if (i + 1 < entries.size()) real_.multicall(vcpu, entries.subspan(i + 1));
      entries[i].result = rc;
      return abi::err::kOk;
    }
    return real_.multicall(vcpu, entries);
  }
  int64_t memory_op(VcpuId vcpu, uint32_t cmd, abi::MemoryReservation& reservation) override {
    return real_.memory_op(vcpu, cmd, reservation);
  }
  int64_t vcpu_op(VcpuId vcpu, uint32_t cmd, uint64_t deadline_ns) override {
    return real_.vcpu_op(vcpu, cmd, deadline_ns);
  }
  int64_t sched_shutdown(VcpuId vcpu, uint32_t reason) override {
    return real_.sched_shutdown(vcpu, reason);
  }
  uint64_t system_time_ns(VcpuId vcpu) const override { return real_.system_time_ns(vcpu); }
  uint32_t take_pending_virqs(VcpuId vcpu) override { return real_.take_pending_virqs(vcpu); }
  hw::MemResult guest_access(VcpuId vcpu, const hw::MemRequest& request) override {
    return real_.guest_access(vcpu, request);
  }
  hw::LoadRun guest_load_run(VcpuId vcpu, Vaddr va, uint32_t count, uint64_t stop_mask,
                             uint64_t* out) override {
    return real_.guest_load_run(vcpu, va, count, stop_mask, out);
  }
  int64_t switch_guest_mode(VcpuId vcpu, bool to_kernel) override {
    return real_.switch_guest_mode(vcpu, to_kernel);
  }
  Pfn machine_to_phys(Mfn mfn) const override { return real_.machine_to_phys(mfn); }

 private:
  struct Refusal {
    abi::HypercallNr op;
    int64_t rc;
  };
  std::optional<int64_t> refused(abi::HypercallNr op, uint32_t* done) {
    if (!refusal_ || refusal_->op != op) return std::nullopt;
    const int64_t rc = refusal_->rc;
    refusal_.reset();
    if (done != nullptr) *done = 0;
    return rc;
  }

  abi::HypervisorPort& real_;
  std::vector<Call> calls_;
  std::optional<Refusal> refusal_;
};

}  // namespace pib::test
