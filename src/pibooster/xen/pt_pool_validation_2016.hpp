// SPDX-License-Identifier: MIT
// PiBooster's pool interface as first built here (policy `pibooster-2016`), kept UNSOUND on
// purpose so that the DMA-adversary tests can show what the fixed interface
// (pt_pool_validation.hpp) closes. Do not use it for results.
//
// MMUEXT_PT_POOL_ADD marks the frame pooled and clears its IOMMU entry at once, but defers the
// IOTLB invalidation to the end of the mmuext_op; type changes of a pooled frame skip the IOMMU
// from the moment it is marked. So a validation between the clear and the invalidation (a later
// op of the same batch, another vCPU) runs while a device may still write the frame through a
// cached translation. Its other flaws: one pending list for every vCPU and domain, REMOVE holds
// no type reference across its remap (a concurrent writable->L1 change sees "not pooled",
// unmaps nothing, and REMOVE then maps a live table), nothing is completed when a pending frame
// is freed or its domain torn down. docs/pibooster-design.md ("soundness") has the argument.
#pragma once

#include <memory>
#include <vector>

#include "abi/hypercall.hpp"
#include "xen/validation_policy.hpp"

namespace pib::pibooster {

class PtPoolValidation2016 final : public xen::ValidationPolicy {
 public:
  std::string_view name() const override { return "pibooster-pool-2016"; }
  std::unique_ptr<xen::ValidationPolicy> clone() const override {
    return std::make_unique<PtPoolValidation2016>(*this);
  }
  bool type_change_syncs_iommu(const xen::PageInfo& pg) const override { return !pg.dma_revoked; }
  bool has_extension_op(uint32_t cmd) const override {
    return cmd == abi::kMmuextPtPoolAdd || cmd == abi::kMmuextPtPoolRemove;
  }
  std::optional<int64_t> extension_op(xen::Hypervisor& xen, uint32_t cmd, Mfn mfn, xen::Domain& d,
                                      VcpuId vcpu) override;
  void end_of_batch(xen::Hypervisor& xen, xen::Domain& d, VcpuId vcpu) override;
  std::size_t pending_revocations() const override { return unmapped_.size(); }

 private:
  int64_t add(xen::Hypervisor& xen, Mfn mfn, xen::Domain& d);
  int64_t remove(xen::Hypervisor& xen, Mfn mfn, xen::Domain& d);

  std::vector<Mfn> unmapped_;   // frames unmapped by the current batch (of any vCPU)
  bool flush_for_map_ = false;  // a map in this batch needs an invalidation (caching mode)
};

}  // namespace pib::pibooster
