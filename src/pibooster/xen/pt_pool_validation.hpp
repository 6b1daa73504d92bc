// SPDX-License-Identifier: MIT
// PiBooster's fine-grained validation, the hypervisor side: DMA validation separated from
// page-table validation through a per-domain page-table pool.
//
// A guest moves frames into the pool (MMUEXT_PT_POOL_ADD): Xen takes them out of the domain's
// IOMMU mappings, whatever their type, and issues one IOTLB invalidation for the whole batch
// at the end of the mmuext_op. While pooled (the frame table's `dma_revoked` bit), type changes
// between writable and a page-table type do no IOMMU work: the frame is not DMA-reachable
// either way. Leaving the pool (MMUEXT_PT_POOL_REMOVE) restores the mapping only if the frame
// is writable-typed, so "in the IOMMU => writable type, not pooled" still holds; a frame in use
// as a page table cannot leave. Every rule of page types and validation applies unchanged.
#pragma once

#include <vector>

#include "xen/validation_policy.hpp"

namespace pib::pibooster {

class PtPoolValidation final : public xen::ValidationPolicy {
 public:
  std::string_view name() const override { return "pibooster-pool"; }
  bool type_change_syncs_iommu(const xen::PageInfo& pg) const override { return !pg.dma_revoked; }
  std::optional<int64_t> extension_op(xen::Hypervisor& xen, uint32_t cmd, Mfn mfn,
                                      xen::Domain& d) override;
  void end_of_batch(xen::Hypervisor& xen, xen::Domain& d) override;

 private:
  int64_t add(xen::Hypervisor& xen, Mfn mfn, xen::Domain& d);
  int64_t remove(xen::Hypervisor& xen, Mfn mfn, xen::Domain& d);

  std::vector<Mfn> unmapped_;   // frames unmapped by this batch, awaiting its invalidation
  bool flush_for_map_ = false;  // a map in this batch needs an invalidation (caching mode)
};

}  // namespace pib::pibooster
