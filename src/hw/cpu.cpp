// SPDX-License-Identifier: MIT
#include "hw/cpu.hpp"

namespace pib::hw {

Cpu::Cpu(CpuId id, MachineMemory& memory, sim::Ledger& ledger, TlbParams tlb_params)
    : id_(id), memory_(memory), mmu_(memory, ledger, tlb_params) {}

uint64_t Cpu::perform(MachineMemory& memory, Maddr ma, const MemRequest& request) {
  const uint64_t old = memory.read_u64(ma);
  switch (request.op) {
    case MemOp::kLoad:
    case MemOp::kFetch:
      return old;
    case MemOp::kStore:  // a store and an xchg differ only in whether the caller uses `old`
    case MemOp::kXchg:
      memory.write_u64(ma, request.value);
      return old;
    case MemOp::kCmpXchg:
      if (old == request.expected) memory.write_u64(ma, request.value);
      return old;
    case MemOp::kAndNot:
      memory.write_u64(ma, old & ~request.value);
      return old;
  }
  return old;
}

MemResult Cpu::access(const MemRequest& request) {
  Access kind = Access::kRead;
  if (request.op == MemOp::kFetch) kind = Access::kExecute;
  if (request.op != MemOp::kLoad && request.op != MemOp::kFetch) kind = Access::kWrite;
  if ((request.va.value & 7) != 0) {
    // The model only issues naturally aligned 8-byte accesses; anything else is a caller bug.
    return MemResult{false, 0, PageFault{request.va, pf_bits::kProtection}};
  }
  const Translation t = mmu_.translate(request.va, kind, request.mode);
  if (t.ok) return MemResult{true, perform(memory_, t.ma, request), std::nullopt};
  if (trap_handler_ != nullptr) {
    if (auto handled = trap_handler_->on_page_fault(*this, t.fault, request)) return *handled;
  }
  return MemResult{false, 0, t.fault};
}

}  // namespace pib::hw
