// SPDX-License-Identifier: MIT
// Xen's IOMMU side for PV domains (xen-pv-mmu.md A3): the domain's I/O page tables (the I/O
// address of a frame is its MFN), populated at build time, and the map/unmap that type changes
// across writability trigger, each flushed synchronously with a page-selective invalidation
// and a wait, exactly as iommu_legacy_map/unmap do — no batching. A map that only makes a
// not-present entry present needs no invalidation unless the IOMMU reports caching mode.
#include <string>

#include "common/error.hpp"
#include "xen/hypervisor.hpp"

namespace pib::xen {

using sim::Event;

namespace {
constexpr uint64_t io_index(uint64_t dfn, unsigned level) {
  return (dfn >> (9ULL * (level - 1))) & 511;
}
}  // namespace

std::pair<Mfn, uint64_t> Hypervisor::iommu_leaf(Domain& d, Mfn dfn, bool create) {
  Mfn table = d.iommu_root;
  if (table == kInvalidMfn) return {kInvalidMfn, 0};
  for (unsigned level = 4; level > 1; --level) {
    const uint64_t idx = io_index(dfn.value, level);
    const uint64_t e = mem_.read_entry(table, idx);
    if ((e & (hw::iopte::kRead | hw::iopte::kWrite)) != 0) {
      table = Mfn{(e & hw::iopte::kAddrMask) >> kPageShift};
      continue;
    }
    if (!create || free_frames_.empty()) return {kInvalidMfn, 0};
    const Mfn next = free_frames_.pop();  // from Xen's own heap
    flush_before_reuse(next, 1);
    frames_[next].owner = kXenOwner;
    mem_.zero_frame(next);
    ledger_.charge(Event::kHwIommuPtAlloc);
    mem_.write_entry(table, idx, (next.value << kPageShift) | hw::iopte::kRead | hw::iopte::kWrite);
    table = next;
  }
  return {table, io_index(dfn.value, 1)};
}

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
  const auto [table, idx] = iommu_leaf(d, mfn, true);
  if (table == kInvalidMfn) return false;
  mem_.write_entry(table, idx, (mfn.value << kPageShift) | hw::iopte::kRead | hw::iopte::kWrite);
  ledger_.charge(Event::kHwIommuMap);
  interleave(Step::kIommuEntry, mfn);
  if (machine_.iommu()->caching_mode()) {
    *needs_flush = true;
  } else {
    ledger_.charge(Event::kXenIommuMapSkipped);
  }
  return true;
}

int64_t Hypervisor::iommu_map(Domain& d, Mfn mfn, bool writable) {
  if (machine_.iommu() == nullptr || d.iommu_root == kInvalidMfn) return abi::err::kOk;
  const auto [table, idx] = iommu_leaf(d, mfn, true);
  if (table == kInvalidMfn) return abi::err::kENOMEM;
  const uint64_t old = mem_.read_entry(table, idx);
  const uint64_t val =
      (mfn.value << kPageShift) | hw::iopte::kRead | (writable ? hw::iopte::kWrite : 0);
  if (old == val) return abi::err::kOk;  // nothing changed, nothing to flush
  mem_.write_entry(table, idx, val);
  ledger_.charge(Event::kHwIommuMap);
  interleave(Step::kIommuEntry, mfn);
  const bool was_present = (old & (hw::iopte::kRead | hw::iopte::kWrite)) != 0;
  if (was_present || machine_.iommu()->caching_mode()) {
    iommu_flush_page(d, mfn);
  } else {
    ledger_.charge(Event::kXenIommuMapSkipped);  // "added" only: no flush without CM
  }
  return abi::err::kOk;
}

bool Hypervisor::iommu_clear(Domain& d, Mfn mfn) {
  if (machine_.iommu() == nullptr || d.iommu_root == kInvalidMfn) return false;
  const auto [table, idx] = iommu_leaf(d, mfn, false);
  if (table == kInvalidMfn) return false;
  const uint64_t old = mem_.read_entry(table, idx);
  if ((old & (hw::iopte::kRead | hw::iopte::kWrite)) == 0) return false;
  mem_.write_entry(table, idx, 0);
  ledger_.charge(Event::kHwIommuUnmap);
  interleave(Step::kIommuEntry, mfn);
  return true;
}

int64_t Hypervisor::iommu_unmap(Domain& d, Mfn mfn) {
  if (iommu_clear(d, mfn)) iommu_flush_page(d, mfn);
  return abi::err::kOk;
}

void Hypervisor::iommu_populate(Domain& d, Mfn mfn) {
  if (d.config.iommu == IommuMode::kNone || machine_.iommu() == nullptr) return;
  if (d.iommu_root == kInvalidMfn) {
    if (free_frames_.empty()) throw InputError("iommu: no memory for the domain's I/O page tables");
    d.iommu_root = free_frames_.pop();
    flush_before_reuse(d.iommu_root, 1);
    frames_[d.iommu_root].owner = kXenOwner;
    mem_.zero_frame(d.iommu_root);
    ledger_.charge(Event::kHwIommuPtAlloc);
  }
  PageInfo& pg = frames_[mfn];
  if (d.config.iommu == IommuMode::kSync && params_.generation == XenGeneration::kModern) {
    // Post-XSA-288: a frame is in the IOMMU exactly while its type is writable; populating
    // takes and drops a writable type reference, leaving it writable with count 0.
    pg.type = PageType::kWritable;
    pg.ever_writable = true;
  }
  // Paper-era populate (and relaxed dom0) maps every frame whatever its type.
  const auto [table, idx] = iommu_leaf(d, mfn, true);
  if (table == kInvalidMfn) throw InputError("iommu: no memory for the domain's I/O page tables");
  // Population runs with IOTLB flushes suppressed (iommu_dont_flush_iotlb): no invalidation.
  mem_.write_entry(table, idx, (mfn.value << kPageShift) | hw::iopte::kRead | hw::iopte::kWrite);
  ledger_.charge(Event::kHwIommuMap);
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

uint64_t Hypervisor::iommu_entry(const Domain& d, Mfn mfn) const {
  Mfn table = d.iommu_root;
  if (table == kInvalidMfn) return 0;
  for (unsigned level = 4; level >= 1; --level) {
    const uint64_t e = mem_.read_entry(table, io_index(mfn.value, level));
    if ((e & (hw::iopte::kRead | hw::iopte::kWrite)) == 0) return 0;
    if (level == 1) return e;
    table = Mfn{(e & hw::iopte::kAddrMask) >> kPageShift};
  }
  return 0;
}

}  // namespace pib::xen
