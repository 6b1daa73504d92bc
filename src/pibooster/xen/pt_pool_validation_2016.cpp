// SPDX-License-Identifier: MIT
#include "pibooster/xen/pt_pool_validation_2016.hpp"

#include "abi/hypercall.hpp"
#include "pibooster/xen/pool_arguments.hpp"
#include "xen/hypervisor.hpp"

namespace pib::pibooster {

using xen::PageInfo;
using xen::PageType;
using xen::Step;

std::optional<int64_t> PtPoolValidation2016::extension_op(xen::Hypervisor& xen, uint32_t cmd,
                                                          Mfn mfn, xen::Domain& d, VcpuId vcpu) {
  (void)vcpu;  // one pending list for all
  switch (cmd) {
    case abi::kMmuextPtPoolAdd:
      return add(xen, mfn, d);
    case abi::kMmuextPtPoolRemove:
      return remove(xen, mfn, d);
    default:
      return std::nullopt;
  }
}

int64_t PtPoolValidation2016::add(xen::Hypervisor& xen, Mfn mfn, xen::Domain& d) {
  if (const int64_t refused = pool_add_refusal(xen, mfn, d); refused != abi::err::kOk) {
    return refused;
  }
  PageInfo& pg = xen.policy_frame(mfn);
  // The flaw: "pooled" (type changes skip the IOMMU) before the invalidation below completes.
  pg.dma_revoked = true;
  const auto cleared =
      d.need_iommu_sync() ? xen.iommu_clear(d, mfn) : xen::Hypervisor::IoClear::kNotMapped;
  if (cleared == xen::Hypervisor::IoClear::kNoMemory) {
    // In an I/O superpage with no frame to split it: nothing changed, the frame is not pooled.
    xen.policy_frame(mfn).dma_revoked = false;
    return abi::err::kENOMEM;
  }
  if (cleared == xen::Hypervisor::IoClear::kCleared) unmapped_.push_back(mfn);
  xen.interleave(Step::kPoolChange, mfn, true);
  return abi::err::kOk;
}

int64_t PtPoolValidation2016::remove(xen::Hypervisor& xen, Mfn mfn, xen::Domain& d) {
  if (const int64_t refused = pool_remove_refusal(xen, mfn, d); refused != abi::err::kOk) {
    return refused;
  }
  PageInfo& pg = xen.policy_frame(mfn);
  // The flaw: the type is read here and no type reference is held from here to the remap.
  const bool remap = d.need_iommu_sync() && pg.type == PageType::kWritable;
  pg.dma_revoked = false;
  xen.interleave(Step::kPoolChange, mfn, true);
  if (remap) {
    bool needs_flush = false;
    if (!xen.iommu_restore_unflushed(d, mfn, &needs_flush)) {
      xen.policy_frame(mfn).dma_revoked = true;
      return abi::err::kENOMEM;
    }
    flush_for_map_ = flush_for_map_ || needs_flush;
  }
  return abi::err::kOk;
}

void PtPoolValidation2016::end_of_batch(xen::Hypervisor& xen, xen::Domain& d, VcpuId vcpu) {
  (void)vcpu;
  if (unmapped_.size() == 1 && !flush_for_map_) {
    xen.iommu_flush_page(d, unmapped_.front());
  } else if (!unmapped_.empty() || flush_for_map_) {
    xen.iommu_flush_domain(d);
  }
  unmapped_.clear();
  flush_for_map_ = false;
}

}  // namespace pib::pibooster
