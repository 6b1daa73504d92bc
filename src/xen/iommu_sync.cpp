// SPDX-License-Identifier: MIT
// Xen's IOMMU side for PV domains (xen-pv-mmu.md A3): the domain's I/O page tables (the I/O
// address of a frame is its MFN), populated at build time, and the map/unmap that type changes
// across writability trigger, each flushed synchronously with a page-selective invalidation
// and a wait, exactly as iommu_legacy_map/unmap do — no batching. A map that only makes a
// not-present entry present needs no invalidation unless the IOMMU reports caching mode. With
// Xen 4.17's superpages (iommu_pt.cpp) a map that merges a table, or an unmap that empties
// one, is flushed domain-wide instead (IOMMU_FLUSHF_all); a split is flushed page-selectively.
#include <string>

#include "common/error.hpp"
#include "xen/hypervisor.hpp"

namespace pib::xen {

using sim::Event;

namespace {
constexpr uint64_t kPresent = hw::iopte::kRead | hw::iopte::kWrite;
constexpr uint64_t l1_index(uint64_t dfn) {
  return dfn & 511;
}
}  // namespace

void Hypervisor::iommu_flush_page(Domain& d, Mfn dfn) {
  hw::Iommu* iommu = machine_.iommu();
  if (iommu == nullptr) return;
  interleave(Step::kIotlbInvalidate, dfn);
  iommu->submit(
      hw::InvalidationDescriptor{hw::InvalidationScope::kPage, d.id, dfn.value << kPageShift, 0});
  iommu->wait();  // synchronous: the hypercall waits for the IOMMU
  interleave(Step::kIotlbInvalidated, dfn);
}

void Hypervisor::iommu_flush_domain(Domain& d) {
  hw::Iommu* iommu = machine_.iommu();
  if (iommu == nullptr) return;
  interleave(Step::kIotlbInvalidate, kInvalidMfn);
  iommu->submit(hw::InvalidationDescriptor{hw::InvalidationScope::kDomain, d.id, 0, 0});
  iommu->wait();
  interleave(Step::kIotlbInvalidated, kInvalidMfn);
}

bool Hypervisor::iommu_restore_unflushed(Domain& d, Mfn mfn, bool* needs_flush) {
  *needs_flush = false;
  if (machine_.iommu() == nullptr || d.iommu_root == kInvalidMfn) return true;
  IoPath path;
  bool shattered = false;
  if (iommu_walk(d, mfn.value, true, path, &shattered) != IoWalk::kOk) return false;
  mem_.write_entry(path.table[1], l1_index(mfn.value), (mfn.value << kPageShift) | kPresent);
  ledger_.charge(Event::kHwIommuMap);
  interleave(Step::kIommuEntry, mfn);
  std::vector<Mfn> freed;
  if (iommu_coalesce(path, mfn.value, freed)) {
    // A merge cannot wait: the replaced table is freed only after the domain-wide flush.
    iommu_flush_domain(d);
    iommu_free_tables(freed);
  } else if (shattered || machine_.iommu()->caching_mode()) {
    *needs_flush = true;
  } else {
    ledger_.charge(Event::kXenIommuMapSkipped);
  }
  return true;
}

int64_t Hypervisor::iommu_map(Domain& d, Mfn mfn, bool writable) {
  if (machine_.iommu() == nullptr || d.iommu_root == kInvalidMfn) return abi::err::kOk;
  IoPath path;
  bool shattered = false;
  if (iommu_walk(d, mfn.value, true, path, &shattered) != IoWalk::kOk) {
    iommu_update_failed(d);
    return abi::err::kENOMEM;
  }
  const uint64_t old = mem_.read_entry(path.table[1], l1_index(mfn.value));
  const uint64_t val =
      (mfn.value << kPageShift) | hw::iopte::kRead | (writable ? hw::iopte::kWrite : 0);
  if (old == val) {
    // Nothing changed, nothing merges; but a superpage split on the way stays split, and
    // the split (IOMMU_FLUSHF_modified) is flushed, as in 4.17.
    if (shattered) iommu_flush_page(d, mfn);
    return abi::err::kOk;
  }
  mem_.write_entry(path.table[1], l1_index(mfn.value), val);
  ledger_.charge(Event::kHwIommuMap);
  interleave(Step::kIommuEntry, mfn);
  std::vector<Mfn> freed;
  if (iommu_coalesce(path, mfn.value, freed)) {
    // IOMMU_FLUSHF_all: a domain-selective invalidation, caching mode or not.
    iommu_flush_domain(d);
    iommu_free_tables(freed);
  } else if ((old & kPresent) != 0 || shattered || machine_.iommu()->caching_mode()) {
    iommu_flush_page(d, mfn);
  } else {
    ledger_.charge(Event::kXenIommuMapSkipped);  // "added" only: no flush without CM
  }
  return abi::err::kOk;
}

Hypervisor::IoClear Hypervisor::iommu_clear(Domain& d, Mfn mfn) {
  if (machine_.iommu() == nullptr || d.iommu_root == kInvalidMfn) return IoClear::kNotMapped;
  IoPath path;
  bool shattered = false;
  const IoWalk w = iommu_walk(d, mfn.value, false, path, &shattered);
  if (w == IoWalk::kNoMemory) return IoClear::kNoMemory;
  if (w != IoWalk::kOk) return IoClear::kNotMapped;
  const uint64_t old = mem_.read_entry(path.table[1], l1_index(mfn.value));
  if ((old & kPresent) == 0) return IoClear::kNotMapped;
  mem_.write_entry(path.table[1], l1_index(mfn.value), 0);
  ledger_.charge(Event::kHwIommuUnmap);
  interleave(Step::kIommuEntry, mfn);
  std::vector<Mfn> freed;
  if (iommu_prune(path, mfn.value, freed)) {
    // The emptied tables may be walked until a domain-wide flush; they cannot wait for the
    // caller's deferred page flush.
    iommu_flush_domain(d);
    iommu_free_tables(freed);
  }
  return IoClear::kCleared;
}

int64_t Hypervisor::iommu_unmap(Domain& d, Mfn mfn) {
  if (machine_.iommu() == nullptr || d.iommu_root == kInvalidMfn) return abi::err::kOk;
  IoPath path;
  bool shattered = false;
  const IoWalk w = iommu_walk(d, mfn.value, false, path, &shattered);
  if (w == IoWalk::kNoMemory) {
    iommu_update_failed(d);
    return abi::err::kENOMEM;
  }
  if (w != IoWalk::kOk) return abi::err::kOk;
  const uint64_t old = mem_.read_entry(path.table[1], l1_index(mfn.value));
  if ((old & kPresent) == 0) return abi::err::kOk;
  mem_.write_entry(path.table[1], l1_index(mfn.value), 0);
  ledger_.charge(Event::kHwIommuUnmap);
  interleave(Step::kIommuEntry, mfn);
  std::vector<Mfn> freed;
  if (iommu_prune(path, mfn.value, freed)) {
    iommu_flush_domain(d);  // IOMMU_FLUSHF_all
    iommu_free_tables(freed);
  } else {
    // One page-selective invalidation, also after a split: it removes the superpage's
    // cached translation, which overlaps the page.
    iommu_flush_page(d, mfn);
  }
  return abi::err::kOk;
}

void Hypervisor::iommu_populate(Domain& d, Mfn mfn) {
  if (d.config.iommu == IommuMode::kNone || machine_.iommu() == nullptr) return;
  if (d.iommu_root == kInvalidMfn) {
    if (free_frames_.empty()) throw InputError("iommu: no memory for the domain's I/O page tables");
    d.iommu_root = alloc_io_table();
  }
  PageInfo& pg = frames_[mfn];
  if (d.config.iommu == IommuMode::kSync && xsa288_fixed(params_)) {
    // Post-XSA-288: a frame is in the IOMMU exactly while its type is writable; populating
    // takes and drops a writable type reference, leaving it writable with count 0.
    pg.type = PageType::kWritable;
    pg.ever_writable = true;
  }
  // Paper-era populate (and relaxed dom0) maps every frame whatever its type.
  IoPath path;
  bool shattered = false;
  if (iommu_walk(d, mfn.value, true, path, &shattered) != IoWalk::kOk) {
    throw InputError("iommu: no memory for the domain's I/O page tables");
  }
  // No invalidation for the entry itself: a not-present entry made present needs none without
  // caching mode (with it, a domU's populate_physmap would flush each frame: not modelled; a
  // dom0 build suppresses them, iommu_dont_flush_iotlb). A merge frees a table, which must
  // wait for a domain-wide invalidation either way.
  mem_.write_entry(path.table[1], l1_index(mfn.value), (mfn.value << kPageShift) | kPresent);
  ledger_.charge(Event::kHwIommuMap);
  std::vector<Mfn> freed;
  if (iommu_coalesce(path, mfn.value, freed)) {
    iommu_flush_domain(d);
    iommu_free_tables(freed);
  }
}

void Hypervisor::assign_device(DomId id, uint16_t device) {
  Domain& d = domain(id);
  hw::Iommu* iommu = machine_.iommu();
  if (iommu == nullptr || d.iommu_root == kInvalidMfn) {
    throw InputError(
        "domain " + std::to_string(id) +
        " has no IOMMU context: create it with an IOMMU mode on a machine with an IOMMU");
  }
  iommu->set_context(device, d.id, d.iommu_root);
  d.devices.push_back(device);
}

}  // namespace pib::xen
