// SPDX-License-Identifier: MIT
#include "hw/cpu.hpp"

#include "common/error.hpp"

namespace pib::hw {

Cpu::Cpu(CpuId id, MachineMemory& memory, sim::Ledger& ledger, TlbParams tlb_params)
    : id_(id), memory_(memory), ledger_(ledger), mmu_(memory, ledger, tlb_params) {}

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
    case MemOp::kZeroPage:
    case MemOp::kCopyPage:
    case MemOp::kScanPage:
      model_bug("page string operations are not single-entry operations");
  }
  return old;
}

MemResult Cpu::page_operation(const MemRequest& request) {
  if (page_offset(request.va.value) != 0 ||
      (request.op == MemOp::kCopyPage && page_offset(request.value) != 0)) {
    return MemResult{false, 0, PageFault{request.va, pf_bits::kProtection}};
  }
  if (request.op == MemOp::kScanPage) {
    const Translation s = mmu_.translate(request.va, Access::kRead, request.mode);
    if (!s.ok) return deliver(s.fault, request);
    ledger_.charge(sim::Event::kHwMemScanPage);
    const uint64_t words = request.value > kEntriesPerTable ? kEntriesPerTable : request.value;
    for (uint64_t i = 0; i < words; ++i) {
      if (memory_.read_entry(mfn_of(s.ma), i) != 0) return MemResult{true, 0, std::nullopt};
    }
    return MemResult{true, 1, std::nullopt};
  }
  std::optional<Mfn> source;
  if (request.op == MemOp::kCopyPage) {
    const Translation s = mmu_.translate(Vaddr{request.value}, Access::kRead, request.mode);
    if (!s.ok) return deliver(s.fault, request);
    source = mfn_of(s.ma);
  }
  const Translation t = mmu_.translate(request.va, Access::kWrite, request.mode);
  if (!t.ok) return deliver(t.fault, request);
  if (source) {
    memory_.copy_frame(mfn_of(t.ma), *source);
  } else {
    memory_.zero_frame(mfn_of(t.ma));
  }
  return MemResult{true, 0, std::nullopt};
}

// A faulting string operation is restartable: the handler may fix the mapping (and the caller
// retries) but cannot complete it by emulation, so it sees the request as it was issued.
MemResult Cpu::deliver(const PageFault& fault, const MemRequest& request) {
  if (trap_handler_ != nullptr) {
    if (auto handled = trap_handler_->on_page_fault(*this, fault, request)) return *handled;
  }
  return MemResult{false, 0, fault};
}

MemResult Cpu::access(const MemRequest& request) {
  Access kind = Access::kRead;
  if (request.op == MemOp::kFetch) kind = Access::kExecute;
  if (request.op != MemOp::kLoad && request.op != MemOp::kFetch) kind = Access::kWrite;
  if (request.op == MemOp::kZeroPage || request.op == MemOp::kCopyPage ||
      request.op == MemOp::kScanPage) {
    return page_operation(request);
  }
  if ((request.va.value & 7) != 0) {
    // The model only issues naturally aligned 8-byte accesses; anything else is a caller bug.
    return MemResult{false, 0, PageFault{request.va, pf_bits::kProtection}};
  }
  const Translation t = mmu_.translate(request.va, kind, request.mode);
  if (t.ok) return MemResult{true, perform(memory_, t.ma, request), std::nullopt};
  return deliver(t.fault, request);
}

LoadRun Cpu::load_run(Vaddr va, uint32_t count, Mode mode, uint64_t stop_mask, uint64_t* out) {
  if (count == 0) return {};
  if (page_offset(va.value) + uint64_t{count} * 8 > kPageSize) {
    model_bug("a run of loads must stay within one page");
  }
  if ((va.value & 7) != 0) return {1, access(MemRequest{va, MemOp::kLoad, mode})};
  LoadRun run;
  for (uint32_t i = 0; i < count; ++i) {
    // Each word is translated as its own load would be (after the first, a TLB hit on the
    // entry the first left: the same charges, the same LRU state), without the rest of the
    // per-access path. This is access() for an aligned load.
    const Vaddr at{va.value + uint64_t{i} * 8};
    const Translation t = mmu_.translate(at, Access::kRead, mode);
    run.done = i + 1;
    if (!t.ok) {
      run.last = deliver(t.fault, MemRequest{at, MemOp::kLoad, mode});
      break;
    }
    run.last = MemResult{true, memory_.read_u64(t.ma), std::nullopt};
    if (out != nullptr) out[i] = run.last.value;
    if ((run.last.value & stop_mask) != 0 || timer_interrupt_pending()) break;
  }
  return run;
}

}  // namespace pib::hw
