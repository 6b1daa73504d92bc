// SPDX-License-Identifier: MIT
#include "pibooster/guest/hybrid_source.hpp"

#include <algorithm>
#include <string>

#include "common/error.hpp"

namespace pib::pibooster {

using sim::Event;

DensityThreshold DensityThreshold::from_costs(const std::array<double, sim::kEventCount>& ns) {
  auto c = [&](Event e) { return ns[static_cast<std::size_t>(e)]; };
  const double scan = static_cast<double>(kEntriesPerTable);
  DensityThreshold t;
  t.writable_table_ns = c(Event::kXenValidateTables) + scan * c(Event::kXenValidateEntriesScanned) +
                        c(Event::kXenDevalidateTables) +
                        scan * c(Event::kXenDevalidateEntriesScanned) +
                        2 * c(Event::kXenHcUpdateVaMapping) + 2 * c(Event::kXenMmuextOps);
  t.kept_table_ns =
      2 * (c(Event::kXenEntry) + c(Event::kXenMmuUpdateRequests) + c(Event::kXenModEntrySlow));
  t.kept_entry_ns = 2 * c(Event::kXenModEntrySlow) + c(Event::kXenMmuUpdateRequests) -
                    c(Event::kXenValidateEntriesPresent) - c(Event::kXenDevalidateEntriesPresent);
  const double per_table = t.writable_table_ns - t.kept_table_ns;
  t.entries = t.kept_entry_ns <= 0 ? scan : std::clamp(per_table / t.kept_entry_ns, 0.0, scan);
  return t;
}

HybridTableSource::HybridTableSource(guest::KernelCore& core, const PtCacheParams& writable,
                                     PinnedCacheParams kept, guest::TablePinPort& pin,
                                     guest::PtPoolPort& pool, DensityThreshold threshold)
    : core_(core),
      kept_(core, kept, pin, pool),
      writable_(core, writable, pool),
      threshold_(threshold) {}

bool HybridTableSource::dense(const guest::Mm& parent) const {
  // The copy has as many tables as the parent: those below the pgd, the pgd and the user pgd.
  const uint64_t tables = parent.pt_pages_below_pgd() + 2;
  return static_cast<double>(parent.rss) > threshold_.entries * static_cast<double>(tables);
}

Pfn HybridTableSource::alloc(TableKind kind, const guest::Mm& mm) {
  bool kept = false;
  if (kind == TableKind::kPgd) {
    // The tree's one decision: fork copies a parent whose density is known; exec starts empty.
    kept = mm.copy_of == nullptr || !dense(*mm.copy_of);
  } else {
    kept = core_.pages().page(mm.pgd).kept_pinned;  // every table of a tree is built one way
  }
  return kept ? kept_.alloc(kind, mm) : writable_.alloc(kind, mm);
}

void HybridTableSource::free(Pfn pfn, TableKind kind) {
  if (core_.pages().page(pfn).kept_pinned) {
    kept_.free(pfn, kind);
  } else {
    writable_.free(pfn, kind);
  }
}

uint64_t HybridTableSource::reclaim(uint64_t pages, guest::ReclaimFrom who) {
  uint64_t got = writable_.reclaim(pages, who);
  if (got < pages) got += kept_.reclaim(pages - got, who);
  return got;
}

std::vector<std::pair<std::string, uint64_t>> HybridTableSource::held() const {
  std::vector<std::pair<std::string, uint64_t>> out = writable_.held();
  for (auto& kv : kept_.held()) out.push_back(std::move(kv));
  return out;
}

}  // namespace pib::pibooster
