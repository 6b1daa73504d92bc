// SPDX-License-Identifier: MIT
// The PiBooster cache: per-level dedicated buffers of ready page-table pages (L1, L2, L3,
// kernel pgd, user pgd) that serve every page-table allocation and free of the guest — a
// page-table page source (guest/pt_pages.hpp).
//
// A cached page is *ready*: it is clean (a freed table is empty once its span is unmapped; the
// cache checks, and clears what is not), a pgd keeps its kernel half and a user pgd its
// vsyscall slot, so a hit skips the page allocator, the zeroing and the pgd constructor; and,
// with the hypervisor's pool interface (PtPoolPort), it stays revoked from DMA for as long as it
// is cached, so its type changes between writable and page table cost no IOMMU work and no
// IOTLB flush. Pages enter and leave the pool in batches (one IOTLB invalidation per batch).
// Without the pool (guest::NoPtPool) it is the cache-only ablation.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "guest/kernel_core.hpp"
#include "guest/pt_pages.hpp"
#include "guest/pt_pool_port.hpp"

namespace pib::pibooster {

using guest::TableKind;

// The [pibooster] knobs of a scenario.
struct PtCacheParams {
  uint32_t capacity = 1024;       // pages per level, at most
  uint32_t low_watermark = 0;     // refill when a level falls to this
  uint32_t high_watermark = 512;  // release down to this when a free goes above it
  uint32_t refill_batch = 32;
  uint32_t release_batch = 64;
};

class PageTableCache final : public guest::PtPageSource {
 public:
  // `pool` outlives the cache.
  PageTableCache(guest::KernelCore& core, PtCacheParams params, guest::PtPoolPort& pool);

  std::string_view name() const override { return "pibooster-cache"; }
  // A ready page for a table of `kind`: clean (template contents for the pgd kinds).
  Pfn alloc(TableKind kind) override;
  // A table page the kernel no longer uses (already released by the pv hooks).
  void free(Pfn pfn, TableKind kind) override;
  bool constructed(TableKind kind) const override {
    (void)kind;
    return true;
  }
  // Memory pressure: give up to `pages` cached pages back to the page allocator.
  uint64_t reclaim(uint64_t pages) override;
  std::vector<std::pair<std::string, uint64_t>> held() const override;

  std::size_t held(TableKind kind) const { return pools_[static_cast<std::size_t>(kind)].size(); }
  const PtCacheParams& params() const { return params_; }

 private:
  void refill(TableKind kind);
  void release(TableKind kind, std::size_t count);
  void make_template(Pfn pfn, TableKind kind);
  void make_clean(Pfn pfn, TableKind kind);

  guest::KernelCore& core_;
  PtCacheParams params_;
  guest::PtPoolPort& pool_;
  std::array<std::vector<Pfn>, guest::kTableKinds> pools_;
};

}  // namespace pib::pibooster
