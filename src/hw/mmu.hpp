// SPDX-License-Identifier: MIT
// The hardware page walker of one CPU: translates a virtual address for a read, write or
// instruction fetch in user or supervisor mode against the current CR3, exactly as x86-64 4-level
// paging does (CR0.WP=1, EFER.NXE=1, no SMEP/SMAP, MAXPHYADDR 46). Sets Accessed bits on every
// level and Dirty on the leaf as hardware does; raises page faults with the architectural error
// code; fills and uses the CPU's TLB. Knows nothing about who owns the tables.
#pragma once

#include <cstdint>
#include <optional>

#include "common/types.hpp"
#include "hw/machine_memory.hpp"
#include "hw/pte.hpp"
#include "hw/tlb.hpp"

namespace pib::hw {

enum class Access { kRead, kWrite, kExecute };
enum class Mode { kSupervisor, kUser };

// Architectural #PF error-code bits.
namespace pf_bits {
inline constexpr uint32_t kProtection = 1u << 0;  // 0 = not present
inline constexpr uint32_t kWrite = 1u << 1;
inline constexpr uint32_t kUser = 1u << 2;
inline constexpr uint32_t kReserved = 1u << 3;
inline constexpr uint32_t kInstruction = 1u << 4;
}  // namespace pf_bits

struct PageFault {
  Vaddr va;
  uint32_t error_code = 0;
};

struct Translation {
  Maddr ma;
  bool ok = false;
  PageFault fault;
};

class Mmu {
 public:
  Mmu(MachineMemory& memory, sim::Ledger& ledger, TlbParams tlb_params);
  // A copy of `source` (CR3 and TLB) walking `memory` and charging `ledger`.
  Mmu(const Mmu& source, MachineMemory& memory, sim::Ledger& ledger);
  Mmu(const Mmu&) = delete;
  Mmu& operator=(const Mmu&) = delete;
  // Holds `source`'s CR3 and TLB again, walking its own memory.
  void restore(const Mmu& source);

  Translation translate(Vaddr va, Access access, Mode mode);
  // Whether a TLB hit on `entry` completes the access (else translate() re-walks): permitted,
  // and a write finds the D bit already set.
  static bool hit_allows(const TlbEntry& entry, Access access, Mode mode);

  // A CR3 write: installs a new root and flushes non-global TLB entries, or everything when
  // `flush_global` (the CR4.PGE toggle system software uses to drop global entries too).
  void load_cr3(Mfn root, bool flush_global);
  Mfn cr3() const { return cr3_; }
  Tlb& tlb() { return tlb_; }
  const Tlb& tlb() const { return tlb_; }

 private:
  Translation walk(Vaddr va, Access access, Mode mode);

  MachineMemory& memory_;
  sim::Ledger& ledger_;
  Tlb tlb_;
  Mfn cr3_ = kInvalidMfn;
};

}  // namespace pib::hw
