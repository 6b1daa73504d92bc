// SPDX-License-Identifier: MIT
#include "hw/tlb.hpp"

#include "common/error.hpp"

namespace pib::hw {

Tlb::Tlb(TlbParams params, sim::Ledger& ledger) : params_(params), ledger_(ledger) {
  if (params_.ways == 0 || params_.entries == 0 || params_.entries % params_.ways != 0) {
    throw InputError("TLB: entries (" + std::to_string(params_.entries) +
                     ") must be a positive multiple of ways (" + std::to_string(params_.ways) +
                     ")");
  }
  sets_ = params_.entries / params_.ways;
  pow2_sets_ = (sets_ & (sets_ - 1)) == 0;
  ways_.resize(params_.entries);
}

Tlb::Tlb(const Tlb& source, sim::Ledger& ledger) : sets_(source.sets_), ledger_(ledger) {
  restore(source);
}

void Tlb::restore(const Tlb& source) {
  params_ = source.params_;
  sets_ = source.sets_;
  pow2_sets_ = source.pow2_sets_;
  ways_ = source.ways_;
  tick_ = source.tick_;
  epoch_ = source.epoch_;
}

const TlbEntry* Tlb::lookup(Vaddr va) {
  const uint64_t vpn = va.value >> kPageShift;
  const std::size_t base = set_of(vpn) * params_.ways;
  for (std::size_t w = 0; w < params_.ways; ++w) {
    Way& way = ways_[base + w];
    if (way.valid && way.entry.vpn == vpn) {
      way.last_use = ++tick_;
      ledger_.charge(sim::Event::kHwTlbHit);
      return &way.entry;
    }
  }
  ledger_.charge(sim::Event::kHwTlbMiss);
  return nullptr;
}

void Tlb::rehit(Vaddr va, uint64_t n) {
  const uint64_t vpn = va.value >> kPageShift;
  const std::size_t base = set_of(vpn) * params_.ways;
  for (std::size_t w = 0; w < params_.ways; ++w) {
    Way& way = ways_[base + w];
    if (way.valid && way.entry.vpn == vpn) {
      tick_ += n;
      way.last_use = tick_;
      ledger_.charge(sim::Event::kHwTlbHit, n);
      return;
    }
  }
  model_bug("TLB rehit of a page that is not cached");
}

Tlb::Slot Tlb::slot_of(Vaddr va) const {
  const uint64_t vpn = va.value >> kPageShift;
  const std::size_t base = set_of(vpn) * params_.ways;
  for (std::size_t w = 0; w < params_.ways; ++w) {
    const Way& way = ways_[base + w];
    if (way.valid && way.entry.vpn == vpn) return Slot{base + w, epoch_};
  }
  return Slot{};
}

void Tlb::insert(const TlbEntry& entry) {
  ++epoch_;
  const std::size_t base = set_of(entry.vpn) * params_.ways;
  Way* victim = &ways_[base];
  for (std::size_t w = 0; w < params_.ways; ++w) {
    Way& way = ways_[base + w];
    if (way.valid && way.entry.vpn == entry.vpn) {
      victim = &way;
      break;
    }
    if (!way.valid) {
      if (victim->valid) victim = &way;
    } else if (victim->valid && way.last_use < victim->last_use) {
      victim = &way;
    }
  }
  victim->entry = entry;
  victim->valid = true;
  victim->last_use = ++tick_;
}

void Tlb::flush_all() {
  ledger_.charge(sim::Event::kHwTlbFlushFull);
  ++epoch_;
  for (auto& w : ways_) w.valid = false;
}

void Tlb::flush_nonglobal() {
  ledger_.charge(sim::Event::kHwTlbFlushNonGlobal);
  ++epoch_;
  for (auto& w : ways_) {
    if (!w.entry.global) w.valid = false;
  }
}

void Tlb::invlpg(Vaddr va) {
  ledger_.charge(sim::Event::kHwTlbInvlpg);
  ++epoch_;
  const uint64_t vpn = va.value >> kPageShift;
  const std::size_t base = set_of(vpn) * params_.ways;
  for (std::size_t w = 0; w < params_.ways; ++w) {
    if (ways_[base + w].entry.vpn == vpn) ways_[base + w].valid = false;
  }
}

std::vector<TlbEntry> Tlb::valid_entries() const {
  std::vector<TlbEntry> out;
  for_each_valid([&](const TlbEntry& e) { out.push_back(e); });
  return out;
}

std::size_t Tlb::occupancy() const {
  std::size_t n = 0;
  for (const auto& w : ways_) n += w.valid ? 1 : 0;
  return n;
}

}  // namespace pib::hw
