// SPDX-License-Identifier: MIT
// A VT-d-like IOMMU: per-device context entries naming an I/O domain and the root of its
// 4-level I/O page tables (in machine memory, written by system software), a set-associative
// LRU IOTLB tagged by domain, queued invalidation (page-selective with an address mask,
// domain-selective, global) completed by a wait descriptor, and the caching-mode capability:
// with caching mode on, the IOTLB also caches not-present translations, so software must
// invalidate after making an entry present. DMA requests are translated (IOTLB, else a walk
// that fills it); a request to an address that is not mapped, or a write to a read-only one, is
// blocked, counted and logged, and moves no data. Knows nothing of Xen.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/types.hpp"
#include "hw/machine_memory.hpp"
#include "sim/ledger.hpp"

namespace pib::hw {

// Second-level I/O page-table entry bits (VT-d).
namespace iopte {
inline constexpr uint64_t kRead = 1ULL << 0;
inline constexpr uint64_t kWrite = 1ULL << 1;
inline constexpr uint64_t kAddrMask = 0x000ffffffffff000ULL;
}  // namespace iopte

struct IommuParams {
  uint32_t iotlb_entries = 64;  // reach 256 KiB with 4 KiB pages (cost-sources §4, pcie-bench)
  uint32_t iotlb_ways = 4;
  bool caching_mode = false;  // CM: emulated / nested IOMMUs report it
};

enum class InvalidationScope { kPage, kDomain, kGlobal };
struct InvalidationDescriptor {
  InvalidationScope scope = InvalidationScope::kPage;
  uint16_t domain = 0;
  uint64_t iova = 0;          // kPage: first address
  unsigned address_mask = 0;  // kPage: 2^mask pages
};

struct DmaFault {
  uint16_t device = 0;
  uint64_t iova = 0;
  bool write = false;
  std::string reason;
};

struct DmaResult {
  bool ok = false;
  uint64_t value = 0;  // read data
  std::optional<Mfn> mfn;
};

class Iommu {
 public:
  Iommu(MachineMemory& memory, sim::Ledger& ledger, IommuParams params);

  const IommuParams& params() const { return params_; }
  bool caching_mode() const { return params_.caching_mode; }

  // Context entries (root/context tables in VT-d): which domain and tables a device uses.
  void set_context(uint16_t device, uint16_t domain, Mfn root);
  void clear_context(uint16_t device);
  // Devices without a context entry DMA untranslated (the IOMMU is bypassed for them).
  bool translates(uint16_t device) const;

  // Queued invalidation: descriptors take effect when the wait descriptor completes.
  void submit(const InvalidationDescriptor& d);
  void wait();

  // A DMA of one 8-byte word or one whole 4 KiB page by `device`.
  DmaResult dma_u64(uint16_t device, uint64_t iova, bool write, uint64_t value = 0);
  DmaResult dma_page(uint16_t device, uint64_t iova, bool write, uint64_t fill = 0);

  const std::vector<DmaFault>& fault_log() const { return faults_; }
  // What the IOTLB holds for (domain, iova), for tests and auditors.
  std::optional<uint64_t> cached_entry(uint16_t domain, uint64_t iova) const;
  // Every translation the IOTLB holds now (a stale one included: it translates until
  // invalidated), for auditors. No side effects, no charges.
  struct CachedTranslation {
    uint16_t domain = 0;
    uint64_t iova_page = 0;
    uint64_t leaf = 0;  // the cached I/O PTE
  };
  std::vector<CachedTranslation> cached_translations() const;
  std::size_t iotlb_occupancy() const;

 private:
  struct Context {
    bool present = false;
    uint16_t domain = 0;
    Mfn root;
  };
  struct Way {
    bool valid = false;
    uint16_t domain = 0;
    uint64_t page = 0;
    uint64_t leaf = 0;  // the cached I/O PTE (0 = a cached not-present result, CM only)
    uint64_t last_use = 0;
  };
  std::optional<uint64_t> translate(uint16_t device, uint64_t iova, bool write, const char** why);
  uint64_t walk(Mfn root, uint64_t iova) const;  // the leaf entry, 0 if any level is absent
  std::size_t set_of(uint64_t page) const { return page % sets_; }

  MachineMemory& memory_;
  sim::Ledger& ledger_;
  IommuParams params_;
  std::vector<Context> contexts_;
  std::size_t sets_;
  std::vector<Way> ways_;
  uint64_t tick_ = 0;
  std::vector<InvalidationDescriptor> queue_;
  std::vector<DmaFault> faults_;
};

}  // namespace pib::hw
