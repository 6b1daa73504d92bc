// SPDX-License-Identifier: MIT
// PiBooster's fine-grained validation, the hypervisor side: DMA validation separated from
// page-table validation through a per-domain page-table pool.
//
// A guest moves frames into the pool (MMUEXT_PT_POOL_ADD): Xen takes them out of the domain's
// IOMMU mappings, whatever their type, and issues one IOTLB invalidation for the calling vCPU's
// batch at the end of its mmuext_op. A frame counts as revoked only once that invalidation has
// completed: until then it is "pending" (the frame table's `dma_revoke_pending`), and anything
// that would rely on it — a page-table type acquisition (before_page_table_use), its free —
// first completes its invalidation. While revoked, type changes between writable and a
// page-table type do no IOMMU work. Leaving the pool (MMUEXT_PT_POOL_REMOVE) restores the
// mapping only if the frame is writable-typed, holding a writable type reference from its
// check to the end of the remap, so no page-table type can be taken meanwhile; a frame in use
// as a page table cannot leave. Pending batches are per vCPU and drained at domain teardown.
// The argument, step by step: docs/pibooster-design.md ("soundness").
#pragma once

#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "abi/hypercall.hpp"
#include "xen/validation_policy.hpp"

namespace pib::pibooster {

class PtPoolValidation final : public xen::ValidationPolicy {
 public:
  std::string_view name() const override { return "pibooster-pool"; }
  std::unique_ptr<xen::ValidationPolicy> clone() const override {
    return std::make_unique<PtPoolValidation>(*this);
  }
  // Pooled frames are exempt; a pending one has completed its invalidation before any
  // page-table type change (before_page_table_use), and must not be mapped again by one.
  bool type_change_syncs_iommu(const xen::PageInfo& pg) const override { return !pg.dma_revoked; }
  bool has_extension_op(uint32_t cmd) const override {
    return cmd == abi::kMmuextPtPoolAdd || cmd == abi::kMmuextPtPoolRemove;
  }
  std::optional<int64_t> extension_op(xen::Hypervisor& xen, uint32_t cmd, Mfn mfn, xen::Domain& d,
                                      VcpuId vcpu) override;
  void end_of_batch(xen::Hypervisor& xen, xen::Domain& d, VcpuId vcpu) override;
  void before_page_table_use(xen::Hypervisor& xen, Mfn mfn, xen::Domain& d) override;
  void before_free(xen::Hypervisor& xen, Mfn mfn) override;
  void domain_teardown(xen::Hypervisor& xen, xen::Domain& d) override;
  std::size_t pending_revocations() const override;

 private:
  struct Batch {
    std::vector<Mfn> unmapped;   // frames this vCPU's batch cleared, awaiting its invalidation
    bool flush_for_map = false;  // a map in this batch needs an invalidation (caching mode)
  };
  int64_t add(xen::Hypervisor& xen, Mfn mfn, xen::Domain& d, VcpuId vcpu);
  int64_t remove(xen::Hypervisor& xen, Mfn mfn, xen::Domain& d, VcpuId vcpu);
  // Completes one pending frame's revocation now (a page-selective invalidation).
  void complete(xen::Hypervisor& xen, Mfn mfn, xen::Domain& d);
  void flush(xen::Hypervisor& xen, xen::Domain& d, Batch& b);

  std::map<std::pair<DomId, VcpuId>, Batch> batches_;
};

}  // namespace pib::pibooster
