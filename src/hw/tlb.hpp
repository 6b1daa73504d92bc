// SPDX-License-Identifier: MIT
// A per-CPU TLB: set-associative, LRU within a set, caching the final translation of a 4 KiB
// virtual page (large pages are cached per 4 KiB page they cover). Entries survive until evicted or
// flushed — a TLB that is not flushed keeps translating with stale permissions, as on hardware.
// Called by the Mmu (lookup/insert) and by whoever flushes (CR3 loads, INVLPG, full flushes).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/types.hpp"
#include "sim/ledger.hpp"

namespace pib::hw {

struct TlbParams {
  uint32_t entries = 64;
  uint32_t ways = 4;
};

struct TlbEntry {
  uint64_t vpn = 0;
  Mfn mfn;
  bool writable = false;
  bool user = false;
  bool executable = false;
  bool global = false;
  bool dirty = false;  // the leaf's D bit was set when cached
};

class Tlb {
 public:
  Tlb(TlbParams params, sim::Ledger& ledger);
  // A copy of `source`'s entries whose charges go to `ledger`.
  Tlb(const Tlb& source, sim::Ledger& ledger);
  Tlb(const Tlb&) = delete;
  Tlb& operator=(const Tlb&) = delete;
  // Holds `source`'s entries again (the copy's state, in this TLB's own storage).
  void restore(const Tlb& source);

  // Charges a hit or a miss; the entry stays valid until the next insert or flush.
  const TlbEntry* lookup(Vaddr va);
  // `n` more lookups of va that hit, as n calls of lookup(va) right after one that hit or the
  // insert that filled its entry (the charges, the LRU state); ModelBug if va is not cached.
  void rehit(Vaddr va, uint64_t n);
  // Where va is cached now (no charge, no LRU update). It stays where it is until the TLB next
  // changes (an insert, a flush, an invlpg), which unchanged() tells: until then a lookup of
  // va would hit that entry, and hit() is that lookup's effect.
  struct Slot {
    static constexpr std::size_t kNone = ~std::size_t{0};
    std::size_t way = kNone;
    uint64_t epoch = 0;
  };
  Slot slot_of(Vaddr va) const;
  bool unchanged(const Slot& s) const { return s.way != Slot::kNone && s.epoch == epoch_; }
  const TlbEntry& entry(const Slot& s) const { return ways_[s.way].entry; }
  void hit(const Slot& s, uint64_t n = 1) {
    tick_ += n;
    ways_[s.way].last_use = tick_;
    ledger_.charge(sim::Event::kHwTlbHit, n);
  }
  void insert(const TlbEntry& entry);
  void flush_all();        // everything, global entries included
  void flush_nonglobal();  // what a CR3 load does
  void invlpg(Vaddr va);   // one page, global or not
  std::size_t occupancy() const;
  std::vector<TlbEntry> valid_entries() const;  // for auditors and tests
  // Calls f(entry) for every valid entry, allocating nothing: the auditor's TLB rule runs after
  // every fuzzed step. Inline, so that it is compiled (and instrumented, or not) with its caller.
  template <typename F>
  void for_each_valid(F f) const {
    for (const Way& w : ways_) {
      if (w.valid) f(w.entry);
    }
  }
  const TlbParams& params() const { return params_; }

 private:
  struct Way {
    TlbEntry entry;
    bool valid = false;
    uint64_t last_use = 0;
  };
  // Power-of-two set counts (every real TLB) index by mask; others by division.
  std::size_t set_of(uint64_t vpn) const {
    return pow2_sets_ ? static_cast<std::size_t>(vpn & (sets_ - 1)) : vpn % sets_;
  }

  TlbParams params_;
  std::size_t sets_;
  bool pow2_sets_ = false;
  std::vector<Way> ways_;  // sets_ * params_.ways
  uint64_t tick_ = 0;
  uint64_t epoch_ = 0;  // changes with every insert, flush and invlpg (Slot)
  sim::Ledger& ledger_;
};

}  // namespace pib::hw
