// SPDX-License-Identifier: MIT
#include "hw/mmu.hpp"

#include <array>

namespace pib::hw {

namespace {

uint32_t access_bits(Access access, Mode mode) {
  uint32_t code = 0;
  if (access == Access::kWrite) code |= pf_bits::kWrite;
  if (access == Access::kExecute) code |= pf_bits::kInstruction;
  if (mode == Mode::kUser) code |= pf_bits::kUser;
  return code;
}

// Bits that must be zero in an entry of `level` that the walker uses (reserved-bit check).
uint64_t reserved_mask(unsigned level, bool leaf_large) {
  uint64_t mask = pte_bits::kReservedAddr;
  if (level == 4) mask |= pte_bits::kPse;
  if (leaf_large) {
    // Address bits between the PAT bit (12) and the large page's alignment must be zero.
    const uint64_t align = span_of_entry(level) - 1;
    mask |= align & ~uint64_t{0x1fff};
  }
  return mask;
}

bool permitted(bool writable, bool user, bool executable, Access access, Mode mode) {
  if (mode == Mode::kUser && !user) return false;
  if (access == Access::kWrite && !writable) return false;  // CR0.WP=1: supervisor too
  if (access == Access::kExecute && !executable) return false;
  return true;
}

}  // namespace

Mmu::Mmu(MachineMemory& memory, sim::Ledger& ledger, TlbParams tlb_params)
    : memory_(memory), ledger_(ledger), tlb_(tlb_params, ledger) {}

Mmu::Mmu(const Mmu& source, MachineMemory& memory, sim::Ledger& ledger)
    : memory_(memory), ledger_(ledger), tlb_(source.tlb_, ledger), cr3_(source.cr3_) {}

void Mmu::restore(const Mmu& source) {
  tlb_.restore(source.tlb_);
  cr3_ = source.cr3_;
}

void Mmu::load_cr3(Mfn root, bool flush_global) {
  ledger_.charge(sim::Event::kHwCr3Load);
  cr3_ = root;
  if (flush_global) {
    tlb_.flush_all();
  } else {
    tlb_.flush_nonglobal();
  }
}

bool Mmu::hit_allows(const TlbEntry& entry, Access access, Mode mode) {
  const bool needs_dirty = access == Access::kWrite && !entry.dirty;
  return permitted(entry.writable, entry.user, entry.executable, access, mode) && !needs_dirty;
}

Translation Mmu::translate(Vaddr va, Access access, Mode mode) {
  const uint32_t code = access_bits(access, mode);
  if (!is_canonical(va)) return {Maddr{}, false, PageFault{va, code | pf_bits::kProtection}};
  if (const TlbEntry* hit = tlb_.lookup(va)) {
    if (hit_allows(*hit, access, mode))
      return {maddr_of(hit->mfn, page_offset(va.value)), true, {}};
    // A write through a clean entry re-walks to set D; a cached entry that forbids the access is
    // dropped and the tables are consulted again (hardware re-walks before faulting).
    tlb_.invlpg(va);
  }
  return walk(va, access, mode);
}

Translation Mmu::walk(Vaddr va, Access access, Mode mode) {
  ledger_.charge(sim::Event::kHwWalk);
  const uint32_t code = access_bits(access, mode);
  if (cr3_ == kInvalidMfn) {
    ledger_.charge(sim::Event::kHwPageFault);
    return {Maddr{}, false, PageFault{va, code}};
  }
  std::array<Maddr, kLevels> entry_addr{};
  unsigned used = 0;
  bool writable = true, user = true, executable = true;
  Mfn table = cr3_;
  Mfn leaf_mfn;
  uint64_t leaf_offset = 0;
  for (unsigned level = kLevels; level >= 1; --level) {
    const Maddr ea = maddr_of(table, table_index(va, level) * 8);
    const Pte e{memory_.read_u64(ea)};
    if (!e.present()) {
      ledger_.charge(sim::Event::kHwPageFault);
      return {Maddr{}, false, PageFault{va, code}};
    }
    const bool large = (level == 2 || level == 3) && e.has(pte_bits::kPse);
    if ((e.raw() & reserved_mask(level, large)) != 0 || !memory_.is_valid(e.mfn())) {
      ledger_.charge(sim::Event::kHwPageFault);
      return {Maddr{}, false, PageFault{va, code | pf_bits::kProtection | pf_bits::kReserved}};
    }
    entry_addr[used++] = ea;
    writable = writable && e.has(pte_bits::kRw);
    user = user && e.has(pte_bits::kUser);
    executable = executable && !e.has(pte_bits::kNx);
    if (level == 1 || large) {
      const uint64_t within = va.value & (span_of_entry(level) - 1);
      const uint64_t pages_mask = (span_of_entry(level) >> kPageShift) - 1;
      leaf_mfn = Mfn{(e.mfn().value & ~pages_mask) + (within >> kPageShift)};
      leaf_offset = page_offset(va.value);
      break;
    }
    table = e.mfn();
  }
  if (!permitted(writable, user, executable, access, mode)) {
    ledger_.charge(sim::Event::kHwPageFault);
    return {Maddr{}, false, PageFault{va, code | pf_bits::kProtection}};
  }
  // Success: set A on every entry used, D on the leaf for writes (atomic updates in hardware).
  for (unsigned i = 0; i < used; ++i) {
    uint64_t raw = memory_.read_u64(entry_addr[i]) | pte_bits::kAccessed;
    if (i + 1 == used && access == Access::kWrite) raw |= pte_bits::kDirty;
    memory_.write_u64(entry_addr[i], raw);
  }
  const Pte leaf{memory_.read_u64(entry_addr[used - 1])};
  tlb_.insert(TlbEntry{.vpn = va.value >> kPageShift,
                       .mfn = leaf_mfn,
                       .writable = writable,
                       .user = user,
                       .executable = executable,
                       .global = leaf.has(pte_bits::kGlobal),
                       .dirty = leaf.has(pte_bits::kDirty)});
  return {maddr_of(leaf_mfn, leaf_offset), true, {}};
}

}  // namespace pib::hw
