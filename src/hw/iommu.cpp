// SPDX-License-Identifier: MIT
#include "hw/iommu.hpp"

#include "common/error.hpp"

namespace pib::hw {

Iommu::Iommu(MachineMemory& memory, sim::Ledger& ledger, IommuParams params)
    : memory_(memory), ledger_(ledger), params_(params) {
  if (params.iotlb_ways == 0 || params.iotlb_entries % params.iotlb_ways != 0) {
    throw InputError("iommu: IOTLB entries must be a multiple of its ways");
  }
  sets_ = params.iotlb_entries / params.iotlb_ways;
  ways_.resize(params.iotlb_entries);
}

Iommu::Iommu(const Iommu& source, MachineMemory& memory, sim::Ledger& ledger)
    : memory_(memory), ledger_(ledger), params_(source.params_), sets_(source.sets_) {
  restore(source);
}

void Iommu::restore(const Iommu& source) {
  params_ = source.params_;
  for (std::size_t b = 0; b < buses_.size(); ++b) {
    if (!source.buses_[b]) {
      buses_[b].reset();
    } else if (buses_[b]) {
      *buses_[b] = *source.buses_[b];
    } else {
      buses_[b] = std::make_unique<ContextTable>(*source.buses_[b]);
    }
  }
  sets_ = source.sets_;
  ways_ = source.ways_;
  tick_ = source.tick_;
  queue_ = source.queue_;
  faults_ = source.faults_;
}

const Iommu::Context& Iommu::context(uint16_t device) const {
  static const Context kAbsent{};
  const auto& bus = buses_[device >> 8];
  return bus ? (*bus)[device & 0xff] : kAbsent;
}

void Iommu::set_context(uint16_t device, uint16_t domain, Mfn root) {
  auto& bus = buses_[device >> 8];
  if (!bus) bus = std::make_unique<ContextTable>();
  (*bus)[device & 0xff] = Context{true, domain, root};
}

void Iommu::clear_context(uint16_t device) {
  if (auto& bus = buses_[device >> 8]) (*bus)[device & 0xff] = Context{};
}

bool Iommu::translates(uint16_t device) const {
  return context(device).present;
}

void Iommu::submit(const InvalidationDescriptor& d) {
  switch (d.scope) {
    case InvalidationScope::kPage:
      ledger_.charge(sim::Event::kHwIotlbInvPage);
      break;
    case InvalidationScope::kDomain:
      ledger_.charge(sim::Event::kHwIotlbInvDomain);
      break;
    case InvalidationScope::kGlobal:
      ledger_.charge(sim::Event::kHwIotlbInvGlobal);
      break;
  }
  queue_.push_back(d);
}

namespace {
constexpr unsigned kOrders[] = {0, 9, 18};  // 4 KiB, 2 MiB, 1 GiB
}  // namespace

void Iommu::wait() {
  ledger_.charge(sim::Event::kHwIommuInvWait);
  for (const InvalidationDescriptor& d : queue_) {
    const uint64_t count = uint64_t{1} << d.address_mask;
    const uint64_t first = (d.iova >> kPageShift) & ~(count - 1);
    for (Way& w : ways_) {
      if (!w.valid) continue;
      // A page-selective invalidation removes every entry overlapping its range: a superpage
      // entry goes when any of its pages is named.
      const uint64_t lo = w.tag << w.order;
      const uint64_t hi = lo + (uint64_t{1} << w.order);
      const bool hit = d.scope == InvalidationScope::kGlobal ||
                       (w.domain == d.domain && (d.scope == InvalidationScope::kDomain ||
                                                 (lo < first + count && first < hi)));
      if (hit) w.valid = false;
    }
  }
  queue_.clear();
}

Iommu::Leaf Iommu::walk(Mfn root, uint64_t iova) const {
  Mfn table = root;
  for (unsigned level = 4; level >= 1; --level) {
    const uint64_t index = (iova >> (kPageShift + 9ULL * (level - 1))) & 511;
    const uint64_t e = memory_.read_entry(table, index);
    if ((e & (iopte::kRead | iopte::kWrite)) == 0) return {};
    if (level == 1) return {e, 0};
    if ((e & iopte::kSuperpage) != 0) {
      // Beyond the large-page capability, or misaligned: reserved, treated as not mapped.
      const unsigned order = 9 * (level - 1);
      const uint64_t block_frames = uint64_t{1} << order;
      if (level - 1 > params_.superpage_levels || level > 3) return {};
      if ((((e & iopte::kAddrMask) >> kPageShift) & (block_frames - 1)) != 0) return {};
      return {e, order};
    }
    const Mfn next{(e & iopte::kAddrMask) >> kPageShift};
    if (!memory_.is_valid(next)) return {};
    table = next;
  }
  return {};
}

std::size_t Iommu::lookup(uint16_t domain, uint64_t page) const {
  // Each size is looked up in the set its own tag selects (none beyond the capability).
  for (const unsigned order : kOrders) {
    if (order / 9 > params_.superpage_levels) break;
    const uint64_t tag = page >> order;
    const std::size_t base = set_of(tag) * params_.iotlb_ways;
    for (std::size_t i = base; i < base + params_.iotlb_ways; ++i) {
      const Way& w = ways_[i];
      if (w.valid && w.domain == domain && w.order == order && w.tag == tag) return i;
    }
  }
  return ways_.size();
}

std::optional<uint64_t> Iommu::translate(uint16_t device, uint64_t iova, bool write,
                                         const char** why) {
  const Context& c = context(device);
  const uint64_t page = iova >> kPageShift;
  const std::size_t found = lookup(c.domain, page);
  Leaf leaf;
  if (found != ways_.size()) {
    ledger_.charge(sim::Event::kHwIotlbHit);
    ways_[found].last_use = ++tick_;
    leaf = Leaf{ways_[found].leaf, ways_[found].order};
  } else {
    ledger_.charge(sim::Event::kHwIotlbMiss);
    ledger_.charge(sim::Event::kHwIommuWalk);
    leaf = walk(c.root, iova);
    // Without caching mode the hardware caches only present translations.
    if (leaf.entry != 0 || params_.caching_mode) {
      const uint64_t tag = page >> leaf.order;
      Way* set = &ways_[set_of(tag) * params_.iotlb_ways];
      Way* victim = &set[0];
      for (uint32_t i = 0; i < params_.iotlb_ways; ++i) {
        if (!set[i].valid) {
          victim = &set[i];
          break;
        }
        if (set[i].last_use < victim->last_use) victim = &set[i];
      }
      *victim = Way{true, c.domain, leaf.order, tag, leaf.entry, ++tick_};
    }
  }
  if (leaf.entry == 0) {
    *why = "not mapped";
    return std::nullopt;
  }
  if (write && !(leaf.entry & iopte::kWrite)) {
    *why = "write to a read-only mapping";
    return std::nullopt;
  }
  if (!write && !(leaf.entry & iopte::kRead)) {
    *why = "read of a write-only mapping";
    return std::nullopt;
  }
  const uint64_t span = uint64_t{1} << (kPageShift + leaf.order);
  return (leaf.entry & iopte::kAddrMask & ~(span - 1)) | (iova & (span - 1));
}

DmaResult Iommu::dma_u64(uint16_t device, uint64_t iova, bool write, uint64_t value) {
  uint64_t ma = iova;
  if (context(device).present) {
    const char* why = "";
    const auto t = translate(device, iova, write, &why);
    if (!t) {
      ledger_.charge(sim::Event::kHwIommuFault);
      faults_.push_back(DmaFault{device, iova, write, why});
      return DmaResult{};
    }
    ma = *t;
  }
  if ((ma & 7) != 0 || !memory_.is_valid(mfn_of(Maddr{ma}))) {
    ledger_.charge(sim::Event::kHwIommuFault);
    faults_.push_back(DmaFault{device, iova, write, "outside memory"});
    return DmaResult{};
  }
  DmaResult r{true, 0, mfn_of(Maddr{ma})};
  if (write) {
    memory_.write_u64(Maddr{ma}, value);
  } else {
    r.value = memory_.read_u64(Maddr{ma});
  }
  return r;
}

DmaResult Iommu::dma_page(uint16_t device, uint64_t iova, bool write, uint64_t fill) {
  if (page_offset(iova) != 0) model_bug("page DMA to an unaligned address");
  const DmaResult first = dma_u64(device, iova, write, fill);
  if (!first.ok) return first;
  ledger_.charge(sim::Event::kHwDmaPage);
  if (write) {
    // One translation covers the page; the data is the device's (a pattern word per 8 bytes).
    for (uint64_t i = 1; i < kEntriesPerTable; ++i) memory_.write_entry(*first.mfn, i, fill);
  }
  return first;
}

std::optional<uint64_t> Iommu::cached_entry(uint16_t domain, uint64_t iova) const {
  const std::size_t i = lookup(domain, iova >> kPageShift);
  if (i == ways_.size()) return std::nullopt;
  return ways_[i].leaf;
}

std::vector<Iommu::CachedTranslation> Iommu::cached_translations() const {
  std::vector<CachedTranslation> out;
  for (const Way& w : ways_) {
    if (w.valid) {
      out.push_back(CachedTranslation{w.domain, w.tag << w.order, uint64_t{1} << w.order, w.leaf});
    }
  }
  return out;
}

std::size_t Iommu::iotlb_occupancy() const {
  std::size_t n = 0;
  for (const Way& w : ways_) n += w.valid ? 1 : 0;
  return n;
}

}  // namespace pib::hw
