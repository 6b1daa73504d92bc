// SPDX-License-Identifier: MIT
// PiBooster's fine-grained validation on the hypervisor side: DMA validation separated from
// page-table validation. A guest moves frames into its page-table pool (MMUEXT_PT_POOL_ADD):
// Xen takes them out of the domain's IOMMU mappings — whatever their type — and, for the whole
// batch, issues one IOTLB invalidation. While pooled, type changes between writable and a
// page-table type do no IOMMU work (the frame is not DMA-reachable either way). Leaving the
// pool (MMUEXT_PT_POOL_REMOVE) restores the mapping only if the frame is writable-typed, so
// "in the IOMMU => writable type, not pooled" still holds; a frame in use as a page table
// cannot leave. Every existing rule of page types and validation applies unchanged.
#include "xen/hypervisor.hpp"

namespace pib::xen {

using sim::Event;

int64_t Hypervisor::pt_pool_add(Mfn mfn, Domain& d) {
  if (!frames_.valid(mfn)) return abi::err::kEINVAL;
  PageInfo& pg = frames_[mfn];
  if (pg.owner != d.id || !pg.allocated) return abi::err::kEPERM;  // not the guest's frame
  if (pg.pt_pool) return abi::err::kEEXIST;                        // double insert
  // Only frames that are not in use with another fixed type (descriptor tables and the like).
  if (pg.type != PageType::kWritable && pg.type != PageType::kNone && !is_pt_type(pg.type)) {
    return abi::err::kEINVAL;
  }
  pg.pt_pool = true;
  // Cleared now, invalidated once for the whole batch (flush_pool_batch).
  if (d.need_iommu_sync() && iommu_clear(d, mfn)) pool_unmapped_.push_back(mfn);
  return abi::err::kOk;
}

int64_t Hypervisor::pt_pool_remove(Mfn mfn, Domain& d) {
  if (!frames_.valid(mfn)) return abi::err::kEINVAL;
  PageInfo& pg = frames_[mfn];
  if (pg.owner != d.id || !pg.allocated) return abi::err::kEPERM;
  if (!pg.pt_pool) return abi::err::kENOENT;  // not pooled (double remove)
  // Restoring DMA to a frame in use as a page table is refused.
  if (is_pt_type(pg.type) && pg.type_count > 0) return abi::err::kEBUSY;
  pg.pt_pool = false;
  if (d.need_iommu_sync() && pg.type == PageType::kWritable && machine_.iommu() != nullptr &&
      d.iommu_root != kInvalidMfn) {
    const auto [table, idx] = iommu_leaf(d, mfn, true);
    if (table == kInvalidMfn) {
      pg.pt_pool = true;
      return abi::err::kENOMEM;
    }
    mem_.write_entry(table, idx, (mfn.value << kPageShift) | hw::iopte::kRead | hw::iopte::kWrite);
    ledger_.charge(Event::kHwIommuMap);
    if (machine_.iommu()->caching_mode()) {
      pool_flush_for_map_ = true;
    } else {
      ledger_.charge(Event::kXenIommuMapSkipped);
    }
  }
  return abi::err::kOk;
}

void Hypervisor::flush_pool_batch(Domain& d) {
  hw::Iommu* iommu = machine_.iommu();
  if (iommu == nullptr || (pool_unmapped_.empty() && !pool_flush_for_map_)) {
    pool_unmapped_.clear();
    pool_flush_for_map_ = false;
    return;
  }
  if (pool_unmapped_.size() == 1 && !pool_flush_for_map_) {
    iommu_flush_page(d, pool_unmapped_.front());
  } else {
    iommu->submit(hw::InvalidationDescriptor{hw::InvalidationScope::kDomain, d.id, 0, 0});
    iommu->wait();
  }
  pool_unmapped_.clear();
  pool_flush_for_map_ = false;
}

}  // namespace pib::xen
