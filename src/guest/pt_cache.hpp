// SPDX-License-Identifier: MIT
// The PiBooster cache: per-level dedicated buffers of ready page-table pages (L1, L2, L3,
// kernel pgd, user pgd) that serve every page-table allocation and free of the guest.
//
// A cached page is *ready*: it is clean (a freed table is empty once its span is unmapped; the
// cache checks, and clears what is not), a pgd keeps its kernel half and a user pgd its
// vsyscall slot, so a hit skips the page allocator, the zeroing and the pgd constructor; and,
// with the hypervisor's pool interface, it stays revoked from DMA for as long as it is cached,
// so its type changes between writable and page table cost no IOMMU work and no IOTLB flush.
// Pages enter and leave the hypervisor pool in batches (one IOTLB invalidation per batch).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "guest/kernel_core.hpp"

namespace pib::guest {

enum class CacheLevel : uint8_t { kL1, kL2, kL3, kPgd, kUserPgd };
inline constexpr std::size_t kCacheLevels = 5;
const char* cache_level_name(CacheLevel l);

struct PtCacheParams {
  uint32_t capacity = 1024;       // pages per level, at most
  uint32_t low_watermark = 0;     // refill when a level falls to this
  uint32_t high_watermark = 512;  // release down to this when a free goes above it
  uint32_t refill_batch = 32;
  uint32_t release_batch = 64;
  bool pool_interface = true;  // use the hypervisor's page-table pool (fine-grained validation)
};

class PageTableCache {
 public:
  PageTableCache(KernelCore& core, PtCacheParams params);

  // A ready page for a table of `level`: clean (template contents for the pgd levels).
  Pfn alloc(CacheLevel level);
  // A table page the kernel no longer uses (already released by the pv hooks).
  void free(Pfn pfn, CacheLevel level);
  // Memory pressure: give up to `pages` cached pages back to the page allocator.
  uint64_t shrink(uint64_t pages);

  std::size_t held(CacheLevel level) const {
    return pools_[static_cast<std::size_t>(level)].size();
  }
  const PtCacheParams& params() const { return params_; }

 private:
  void refill(CacheLevel level);
  void release(CacheLevel level, std::size_t count);
  void make_template(Pfn pfn, CacheLevel level);
  void make_clean(Pfn pfn, CacheLevel level);

  KernelCore& core_;
  PtCacheParams params_;
  std::array<std::vector<Pfn>, kCacheLevels> pools_;
};

}  // namespace pib::guest
