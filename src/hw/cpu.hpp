// SPDX-License-Identifier: MIT
// A physical CPU executing guest code: 8-byte memory operations through its Mmu. When the walker
// raises a page fault the CPU delivers it to the ring-0 trap handler (whatever system software
// installed one); the handler either completes the operation itself (emulation) or lets the
// fault stand, in which case the caller sees it. The CPU knows nothing of Xen.
#pragma once

#include <cstdint>
#include <optional>

#include "hw/mmu.hpp"

namespace pib::hw {

enum class MemOp {
  kLoad,     // mov r, [va]
  kStore,    // mov [va], v
  kXchg,     // xchg [va], v            -> returns the old value
  kCmpXchg,  // lock cmpxchg [va]       -> returns the old value
  kAndNot,   // lock and [va], ~v       -> returns the old value (clear_bit-style RMW)
  kFetch,    // instruction fetch of [va]
  // Whole-page string operations (rep stosq / rep movsq over one aligned 4 KiB page): one
  // translation per page touched instead of 512, which is what the TLB sees for them too.
  kZeroPage,  // zero the page at va (va must be page aligned)
  kCopyPage,  // copy the page at `value` (a virtual address) to the page at va
  kScanPage,  // are the first `value` words of the page at va all zero? (result 1 if so)
};

struct MemRequest {
  Vaddr va;
  MemOp op = MemOp::kLoad;
  Mode mode = Mode::kUser;
  uint64_t value = 0;
  uint64_t expected = 0;  // kCmpXchg only
};

struct MemResult {
  bool ok = false;
  uint64_t value = 0;  // loaded value, or the old value of an RMW
  std::optional<PageFault> fault;
};

// The outcome of a run of loads (Cpu::load_run): how many words were loaded and the last one's
// result (its value, or the fault that ended the run).
struct LoadRun {
  uint32_t done = 0;
  MemResult last;
};

// One word a take run (Cpu::take_run) cleared: its index in the run and the value it held.
struct TakenWord {
  uint32_t index = 0;
  uint64_t value = 0;
};

// The outcome of a take run: words covered, words taken, and the last access's result (ok, or
// the fault that ended the run).
struct TakeRun {
  uint32_t done = 0;
  uint32_t taken = 0;
  MemResult last;
};

// What a copy run (Cpu::copy_run) does with a source word that has a bit of its mask: the bits
// cleared in the source first (an atomic and-not; none: no access), then the value stored in
// the destination word of the same index.
struct CopyWord {
  uint64_t clear_in_source = 0;
  uint64_t store = 0;
};
// Called once per such word, in order: its index in the run and its value.
using CopyWordFn = CopyWord (*)(void* context, uint32_t index, uint64_t word);

// The outcome of a copy run: source words covered, words copied, and the last access's result.
struct CopyRun {
  uint32_t done = 0;
  uint32_t copied = 0;
  MemResult last;
};

class Cpu;

// Ring-0 exception entry for page faults. Returns the completed result when the handler emulated
// the access, or nullopt to let the fault reach the code that made the access.
class TrapHandler {
 public:
  virtual ~TrapHandler() = default;
  virtual std::optional<MemResult> on_page_fault(Cpu& cpu, const PageFault& fault,
                                                 const MemRequest& request) = 0;
};

class Cpu {
 public:
  Cpu(CpuId id, MachineMemory& memory, sim::Ledger& ledger, TlbParams tlb_params);
  // A copy of `source`'s state (MMU, TLB, timer) on `memory`, charging `ledger`. It has no trap
  // handler: the system software restored with it installs its own.
  Cpu(const Cpu& source, MachineMemory& memory, sim::Ledger& ledger);
  Cpu(const Cpu&) = delete;
  Cpu& operator=(const Cpu&) = delete;
  // Holds `source`'s state again (MMU, TLB, timer); keeps its own trap handler.
  void restore(const Cpu& source);

  CpuId id() const { return id_; }
  Mmu& mmu() { return mmu_; }
  const Mmu& mmu() const { return mmu_; }
  void set_trap_handler(TrapHandler* handler) { trap_handler_ = handler; }

  MemResult access(const MemRequest& request);
  MemResult load(Vaddr va, Mode mode = Mode::kUser) { return access({va, MemOp::kLoad, mode}); }
  MemResult store(Vaddr va, uint64_t value, Mode mode = Mode::kUser) {
    return access({va, MemOp::kStore, mode, value});
  }
  // A run of loads: the 8-byte words at va, va + 8, ... (at most `count`, all in va's page),
  // each one a load as load() performs it — translated through the TLB, charged, faulting —
  // done in one call for the host's sake; words go to `out` when given. The run ends after
  // the first word that faulted, that has a bit of `stop_mask` set (a scan for the next
  // present entry passes the present bit), or after which this CPU's timer interrupt is
  // pending: software may take an interrupt between any two loads, so the caller's interrupt
  // window runs there, exactly where it would after that single load.
  LoadRun load_run(Vaddr va, uint32_t count, Mode mode, uint64_t stop_mask = 0,
                   uint64_t* out = nullptr);

  // A teardown run over a table (native_local_ptep_get_and_clear of each entry it finds): the
  // words at va, va + 8, ... (`count`, all in va's page) are loaded in turn as load_run loads
  // them, and each word with a bit of `mask` set is then loaded again and stored 0, a load and
  // a store as access() performs them; its index and value go to `taken` (room for `count`).
  // Exactly those CPU operations in that order, in one call: callers use it where no interrupt
  // window between them can have work (no clock). Ends early at the first fault.
  TakeRun take_run(Vaddr va, uint32_t count, Mode mode, uint64_t mask, TakenWord* taken);

  // A copying run between two tables (fork's copy loop): the words at src, src + 8, ... (`count`,
  // all in src's page) are loaded in turn as load_run loads them; for each with a bit of `mask`
  // `fn` says what to do, then the source word gets its and-not (when there are bits to clear)
  // and the word of the same index at dst (its page too) its store, each an access() as it
  // would be on its own. Exactly those CPU operations in that order, in one call, for callers
  // where no interrupt window between them can have work (no clock). Ends at the first fault.
  CopyRun copy_run(Vaddr src, Vaddr dst, uint32_t count, Mode mode, uint64_t mask, CopyWordFn fn,
                   void* context);

  // The CPU's clock (the ledger's running clock for this CPU, in ns) and its local timer, an APIC
  // timer in TSC-deadline mode: once the clock reaches the deadline the timer interrupt is
  // pending until software re-arms or disarms the timer. Interrupts are not injected into the
  // running code: software checks for them where it could take one.
  double now_ns() const { return ledger_.clock_ns(id_); }
  void set_timer_deadline(double ns) { timer_deadline_ = ns; }
  void disarm_timer() { timer_deadline_ = kTimerDisarmed; }
  bool timer_interrupt_pending() const { return now_ns() >= timer_deadline_; }
  static constexpr double kTimerDisarmed = 1e300;

  // Performs `request` at an already translated machine address (also used by emulators).
  static uint64_t perform(MachineMemory& memory, Maddr ma, const MemRequest& request);

 private:
  MemResult page_operation(const MemRequest& request);
  // access() of a load or store in the page whose TLB entry `slot` held after the previous
  // access of the run: while the TLB is unchanged and that entry allows it, the lookup access()
  // would make hits it, so the hit is charged and the word done directly; otherwise access()
  // itself, after which `slot` holds whatever entry now caches the page.
  MemResult held_access(Tlb::Slot& slot, const MemRequest& request);
  uint32_t held_empty_loads(const Tlb::Slot& slot, Vaddr va, uint32_t from, uint32_t count,
                            Mode mode, uint64_t mask, MemResult& last);
  MemResult deliver(const PageFault& fault, const MemRequest& request);

  CpuId id_;
  MachineMemory& memory_;
  sim::Ledger& ledger_;
  Mmu mmu_;
  TrapHandler* trap_handler_ = nullptr;
  double timer_deadline_ = kTimerDisarmed;
};

}  // namespace pib::hw
