// SPDX-License-Identifier: MIT
#include "pibooster/xen/pt_pool_validation.hpp"

#include "abi/hypercall.hpp"
#include "xen/hypervisor.hpp"

namespace pib::pibooster {

using xen::PageInfo;
using xen::PageType;

std::optional<int64_t> PtPoolValidation::extension_op(xen::Hypervisor& xen, uint32_t cmd, Mfn mfn,
                                                      xen::Domain& d) {
  switch (cmd) {
    case abi::kMmuextPtPoolAdd:
      return add(xen, mfn, d);
    case abi::kMmuextPtPoolRemove:
      return remove(xen, mfn, d);
    default:
      return std::nullopt;
  }
}

int64_t PtPoolValidation::add(xen::Hypervisor& xen, Mfn mfn, xen::Domain& d) {
  if (!xen.frame_table().valid(mfn)) return abi::err::kEINVAL;
  PageInfo& pg = xen.policy_frame(mfn);
  if (pg.owner != d.id || !pg.allocated) return abi::err::kEPERM;  // not the guest's frame
  if (pg.dma_revoked) return abi::err::kEEXIST;                    // double insert
  // Only frames that are not in use with another fixed type (descriptor tables and the like).
  if (pg.type != PageType::kWritable && pg.type != PageType::kNone && !is_pt_type(pg.type)) {
    return abi::err::kEINVAL;
  }
  pg.dma_revoked = true;
  // Cleared now, invalidated once for the whole batch (end_of_batch).
  if (d.need_iommu_sync() && xen.iommu_clear(d, mfn)) unmapped_.push_back(mfn);
  return abi::err::kOk;
}

int64_t PtPoolValidation::remove(xen::Hypervisor& xen, Mfn mfn, xen::Domain& d) {
  if (!xen.frame_table().valid(mfn)) return abi::err::kEINVAL;
  PageInfo& pg = xen.policy_frame(mfn);
  if (pg.owner != d.id || !pg.allocated) return abi::err::kEPERM;
  if (!pg.dma_revoked) return abi::err::kENOENT;  // not pooled (double remove)
  // Restoring DMA to a frame in use as a page table is refused.
  if (is_pt_type(pg.type) && pg.type_count > 0) return abi::err::kEBUSY;
  pg.dma_revoked = false;
  if (d.need_iommu_sync() && pg.type == PageType::kWritable) {
    bool needs_flush = false;
    if (!xen.iommu_restore_unflushed(d, mfn, &needs_flush)) {
      pg.dma_revoked = true;
      return abi::err::kENOMEM;
    }
    flush_for_map_ = flush_for_map_ || needs_flush;
  }
  return abi::err::kOk;
}

void PtPoolValidation::end_of_batch(xen::Hypervisor& xen, xen::Domain& d) {
  if (unmapped_.size() == 1 && !flush_for_map_) {
    xen.iommu_flush_page(d, unmapped_.front());
  } else if (!unmapped_.empty() || flush_for_map_) {
    xen.iommu_flush_domain(d);
  }
  unmapped_.clear();
  flush_for_map_ = false;
}

}  // namespace pib::pibooster
