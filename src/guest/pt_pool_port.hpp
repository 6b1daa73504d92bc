// SPDX-License-Identifier: MIT
// The hypervisor's page-table pool, as the guest reaches it (PiBooster's ABI extension,
// MMUEXT_PT_POOL_ADD/REMOVE): frames revoked from DMA independently of their type, so their
// type changes between writable and page table need no IOMMU work. One IOTLB invalidation per
// call. Implemented by the Xen pv-ops (bare metal has no such pool).
//
// Called by: page-table page sources and DMA-pool strategies (pt_pages.hpp, dma_pool.hpp).
#pragma once

#include <vector>

#include "common/types.hpp"

namespace pib::guest {

class PtPoolPort {
 public:
  virtual ~PtPoolPort() = default;
  // Revoke / restore DMA for these pages (already pooled / not pooled ones are skipped).
  virtual void pool_add(const std::vector<Pfn>& pages) = 0;
  virtual void pool_remove(const std::vector<Pfn>& pages) = 0;
};

// No pool: DMA stays with the type changes (a design that caches pages without the pool).
class NoPtPool final : public PtPoolPort {
 public:
  void pool_add(const std::vector<Pfn>& pages) override { (void)pages; }
  void pool_remove(const std::vector<Pfn>& pages) override { (void)pages; }
};

}  // namespace pib::guest
