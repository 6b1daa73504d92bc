// SPDX-License-Identifier: MIT
#include "hw/cpu.hpp"

#include "common/error.hpp"

namespace pib::hw {

Cpu::Cpu(CpuId id, MachineMemory& memory, sim::Ledger& ledger, TlbParams tlb_params)
    : id_(id), memory_(memory), ledger_(ledger), mmu_(memory, ledger, tlb_params) {}

Cpu::Cpu(const Cpu& source, MachineMemory& memory, sim::Ledger& ledger)
    : id_(source.id_),
      memory_(memory),
      ledger_(ledger),
      mmu_(source.mmu_, memory, ledger),
      timer_deadline_(source.timer_deadline_) {}

void Cpu::restore(const Cpu& source) {
  if (source.id_ != id_) model_bug("cpu restore: not a copy of this CPU");
  mmu_.restore(source.mmu_);
  timer_deadline_ = source.timer_deadline_;
}

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
  // The first word is a load as access() performs it.
  const Translation t = mmu_.translate(va, Access::kRead, mode);
  if (!t.ok) return {1, deliver(t.fault, MemRequest{va, MemOp::kLoad, mode})};
  const uint64_t* frame = memory_.frame_words(mfn_of(t.ma));  // nullptr: all zeros
  const uint64_t first = page_offset(va.value) / 8;
  auto word = [&](uint64_t i) { return frame != nullptr ? frame[first + i] : 0; };
  uint32_t done = 1;
  if ((word(0) & stop_mask) == 0 && !timer_interrupt_pending()) {
    // The others hit the TLB entry the first one used or filled (same page, same access, so
    // the same permission check) and charge a hit each; none writes memory.
    uint32_t end = count;
    if (stop_mask != 0 && frame != nullptr) {
      const uint64_t* w = frame + first;
      uint32_t i = 1;
      while (i + 4 <= count && ((w[i] | w[i + 1] | w[i + 2] | w[i + 3]) & stop_mask) == 0) i += 4;
      while (i < count && (w[i] & stop_mask) == 0) ++i;
      if (i < count) end = i + 1;
    }
    Tlb& tlb = mmu_.tlb();
    if (!ledger_.clock_on()) {
      // No clock: time stands still, so the timer cannot become pending within the run.
      tlb.rehit(va, end - 1);
      done = end;
    } else {
      // The clock advances with every hit: the timer is checked after each, as between loads.
      while (done < end) {
        tlb.rehit(va, 1);
        ++done;
        if (timer_interrupt_pending()) break;
      }
    }
  }
  if (out != nullptr) {
    for (uint32_t i = 0; i < done; ++i) out[i] = word(i);
  }
  LoadRun run;
  run.done = done;
  run.last = MemResult{true, word(done - 1), std::nullopt};
  return run;
}

MemResult Cpu::held_access(Tlb::Slot& slot, const MemRequest& request) {
  Tlb& tlb = mmu_.tlb();
  const Access kind = request.op == MemOp::kLoad ? Access::kRead : Access::kWrite;
  if (tlb.unchanged(slot) && Mmu::hit_allows(tlb.entry(slot), kind, request.mode)) {
    tlb.hit(slot);
    const Maddr ma = maddr_of(tlb.entry(slot).mfn, page_offset(request.va.value));
    return MemResult{true, perform(memory_, ma, request), std::nullopt};
  }
  const MemResult r = access(request);
  slot = tlb.slot_of(request.va);
  return r;
}

TakeRun Cpu::take_run(Vaddr va, uint32_t count, Mode mode, uint64_t mask, TakenWord* taken) {
  if (page_offset(va.value) + uint64_t{count} * 8 > kPageSize) {
    model_bug("a take run must stay within one page");
  }
  Tlb::Slot slot;  // none yet: the first load is a plain access()
  auto word_va = [&](uint32_t i) { return Vaddr{va.value + uint64_t{i} * 8}; };
  TakeRun run;
  while (run.done < count) {
    const uint32_t i = run.done++;
    run.last = held_access(slot, MemRequest{word_va(i), MemOp::kLoad, mode});
    if (!run.last.ok) return run;
    if ((run.last.value & mask) == 0) {
      run.done += held_empty_loads(slot, va, run.done, count, mode, mask, run.last);
      continue;
    }
    run.last = held_access(slot, MemRequest{word_va(i), MemOp::kLoad, mode});
    if (!run.last.ok) return run;
    const uint64_t value = run.last.value;
    run.last = held_access(slot, MemRequest{word_va(i), MemOp::kStore, mode, 0});
    if (!run.last.ok) return run;
    taken[run.taken++] = TakenWord{i, value};
  }
  return run;
}

CopyRun Cpu::copy_run(Vaddr src, Vaddr dst, uint32_t count, Mode mode, uint64_t mask, CopyWordFn fn,
                      void* context) {
  if (page_offset(src.value) + uint64_t{count} * 8 > kPageSize ||
      page_offset(dst.value) + uint64_t{count} * 8 > kPageSize) {
    model_bug("a copy run must stay within one source and one destination page");
  }
  Tlb::Slot from;  // none yet: each page's first access is a plain access()
  Tlb::Slot to;
  auto at = [](Vaddr base, uint32_t i) { return Vaddr{base.value + uint64_t{i} * 8}; };
  CopyRun run;
  while (run.done < count) {
    const uint32_t i = run.done++;
    run.last = held_access(from, MemRequest{at(src, i), MemOp::kLoad, mode});
    if (!run.last.ok) return run;
    if ((run.last.value & mask) == 0) {
      run.done += held_empty_loads(from, src, run.done, count, mode, mask, run.last);
      continue;
    }
    const CopyWord w = fn(context, i, run.last.value);
    if (w.clear_in_source != 0) {
      run.last = held_access(from, MemRequest{at(src, i), MemOp::kAndNot, mode, w.clear_in_source});
      if (!run.last.ok) return run;
    }
    run.last = held_access(to, MemRequest{at(dst, i), MemOp::kStore, mode, w.store});
    if (!run.last.ok) return run;
    ++run.copied;
  }
  return run;
}

uint32_t Cpu::held_empty_loads(const Tlb::Slot& slot, Vaddr va, uint32_t from, uint32_t count,
                               Mode mode, uint64_t mask, MemResult& last) {
  // The loads of the words after an empty one, up to the next with a bit of `mask` (which is
  // left to the caller): each would hit the entry the empty one's load left, as held_access
  // finds it, so they are charged together, reading the frame's words directly.
  Tlb& tlb = mmu_.tlb();
  if (!tlb.unchanged(slot) || !Mmu::hit_allows(tlb.entry(slot), Access::kRead, mode)) {
    return 0;
  }
  const uint64_t* w = memory_.frame_words(tlb.entry(slot).mfn);  // nullptr: all zeros
  if (w == nullptr) {
    tlb.hit(slot, count - from);
    if (count > from) last.value = 0;
    return count - from;
  }
  w += page_offset(va.value) / 8;
  uint32_t i = from;
  while (i + 4 <= count && ((w[i] | w[i + 1] | w[i + 2] | w[i + 3]) & mask) == 0) i += 4;
  while (i < count && (w[i] & mask) == 0) ++i;
  if (i > from) {
    tlb.hit(slot, i - from);
    last.value = w[i - 1];
  }
  return i - from;
}

}  // namespace pib::hw
