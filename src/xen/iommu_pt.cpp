// SPDX-License-Identifier: MIT
// The shape of a domain's I/O page tables as Xen 4.17's VT-d driver keeps it. A walk to a
// 4 KiB entry allocates missing tables and splits a superpage it meets into a table of 512
// entries mapping the same block (addr_to_dma_page_maddr). After a map, a level-1 table whose
// 512 entries map one aligned 2 MiB block with identical permissions is replaced by a 2 MiB
// entry in its level-2 table, and a level-2 table of 512 such entries by a 1 GiB entry, as far
// as the sizes in use reach (intel_iommu_map_page's loop over pt_update_contig_markers). After
// an unmap, level-1 and level-2 tables left empty leave their parents (intel_iommu_unmap_page).
// Either way the replaced tables are freed only after a domain-wide invalidation, since the
// IOMMU may still walk them. The I/O address of a frame is its MFN (the PV identity map).
#include "common/error.hpp"
#include "xen/hypervisor.hpp"

namespace pib::xen {

using sim::Event;

namespace {
constexpr uint64_t kPresent = hw::iopte::kRead | hw::iopte::kWrite;
constexpr uint64_t io_index(uint64_t dfn, unsigned level) {
  return (dfn >> (9ULL * (level - 1))) & 511;
}
constexpr bool present(uint64_t e) {
  return (e & kPresent) != 0;
}
constexpr bool superpage(uint64_t e) {
  return (e & hw::iopte::kSuperpage) != 0;
}
constexpr Mfn target_of(uint64_t e) {
  return Mfn{(e & hw::iopte::kAddrMask) >> kPageShift};
}
// Frames one entry of a level-`level` table maps.
constexpr uint64_t frames_per_entry(unsigned level) {
  return uint64_t{1} << (9 * (level - 1));
}

// Whether a level-`level` table is one leaf's worth of the level above: every entry a leaf
// (4 KiB entries at level 1, superpages above), the first aligned to the whole block, each
// next one the same but for an address one entry further (pt-contig-markers' IS_CONTIG).
bool contiguous(const hw::MachineMemory& mem, Mfn table, unsigned level) {
  const uint64_t first = mem.read_entry(table, 0);
  if (!present(first) || (level > 1) != superpage(first)) return false;
  const uint64_t step = frames_per_entry(level);
  if (target_of(first).value % (step * kEntriesPerTable) != 0) return false;
  for (uint64_t i = 1; i < kEntriesPerTable; ++i) {
    if (mem.read_entry(table, i) != first + ((i * step) << kPageShift)) return false;
  }
  return true;
}

bool empty(const hw::MachineMemory& mem, Mfn table) {
  for (uint64_t i = 0; i < kEntriesPerTable; ++i) {
    if (present(mem.read_entry(table, i))) return false;
  }
  return true;
}
}  // namespace

unsigned Hypervisor::iommu_superpage_levels() const {
  const hw::Iommu* iommu = machine_.iommu();
  if (iommu == nullptr || !iommu_superpages_on(params_)) return 0;
  // Xen uses what the unit reports (cap_sps_2mb / cap_sps_1gb), at most 1 GiB.
  return std::min(iommu->params().superpage_levels, 2u);
}

Mfn Hypervisor::alloc_io_table() {
  const Mfn next = free_frames_.pop();  // from Xen's own heap
  flush_before_reuse(next, 1);
  frames_[next].owner = kXenOwner;
  mem_.zero_frame(next);
  ledger_.charge(Event::kHwIommuPtAlloc);
  return next;
}

Hypervisor::IoWalk Hypervisor::iommu_walk(Domain& d, uint64_t dfn, bool create, IoPath& path,
                                          bool* shattered) {
  *shattered = false;
  path.table[4] = d.iommu_root;
  if (d.iommu_root == kInvalidMfn) return IoWalk::kAbsent;
  for (unsigned level = 4; level > 1; --level) {
    const Mfn table = path.table[level];
    const uint64_t idx = io_index(dfn, level);
    const uint64_t e = mem_.read_entry(table, idx);
    if (present(e) && !superpage(e)) {
      path.table[level - 1] = target_of(e);
      continue;
    }
    if (!present(e) && !create) return IoWalk::kAbsent;
    if (free_frames_.empty()) return IoWalk::kNoMemory;
    const Mfn next = alloc_io_table();
    if (present(e)) {
      // The split keeps every translation: 512 entries of the next size over the same block,
      // superpages still unless they are 4 KiB entries now.
      const uint64_t child = level == 2 ? (e & ~hw::iopte::kSuperpage) : e;
      const uint64_t step = frames_per_entry(level - 1) << kPageShift;
      for (uint64_t i = 0; i < kEntriesPerTable; ++i) mem_.write_entry(next, i, child + i * step);
      ledger_.charge(Event::kXenIommuShatter);
      *shattered = true;
    }
    mem_.write_entry(table, idx, (next.value << kPageShift) | kPresent);
    path.table[level - 1] = next;
  }
  return IoWalk::kOk;
}

bool Hypervisor::iommu_coalesce(const IoPath& path, uint64_t dfn, std::vector<Mfn>& freed) {
  const unsigned sizes = iommu_superpage_levels();
  bool merged = false;
  for (unsigned level = 1; level <= sizes && contiguous(mem_, path.table[level], level); ++level) {
    const uint64_t first = mem_.read_entry(path.table[level], 0);
    mem_.write_entry(path.table[level + 1], io_index(dfn, level + 1),
                     first | hw::iopte::kSuperpage);
    freed.push_back(path.table[level]);
    ledger_.charge(Event::kXenIommuCoalesce);
    merged = true;
  }
  return merged;
}

bool Hypervisor::iommu_prune(const IoPath& path, uint64_t dfn, std::vector<Mfn>& freed) {
  // Paper-era Xen keeps every table it ever allocated until the domain dies.
  if (params_.generation != XenGeneration::kModern) return false;
  bool pruned = false;
  // Up to the level below the top the smallest unit walks (min_pt_levels = 4 here).
  for (unsigned level = 1; level < 3 && empty(mem_, path.table[level]); ++level) {
    mem_.write_entry(path.table[level + 1], io_index(dfn, level + 1), 0);
    freed.push_back(path.table[level]);
    pruned = true;
  }
  return pruned;
}

void Hypervisor::iommu_free_tables(const std::vector<Mfn>& freed) {
  for (const Mfn table : freed) {
    mem_.zero_frame(table);
    frames_[table] = PageInfo{};
    free_frames_.push(table);
    ledger_.charge(Event::kXenIommuPtFree);
  }
}

uint64_t Hypervisor::iommu_entry(const Domain& d, Mfn mfn) const {
  Mfn table = d.iommu_root;
  if (table == kInvalidMfn) return 0;
  for (unsigned level = 4; level >= 1; --level) {
    const uint64_t e = mem_.read_entry(table, io_index(mfn.value, level));
    if (!present(e)) return 0;
    if (level == 1) return e;
    if (superpage(e)) {
      // The frame's share of the superpage, as the 4 KiB entry a split would give it.
      const uint64_t offset = mfn.value & (frames_per_entry(level) - 1);
      return (e & ~hw::iopte::kSuperpage) + (offset << kPageShift);
    }
    table = target_of(e);
  }
  return 0;
}

}  // namespace pib::xen
