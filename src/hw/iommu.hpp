// SPDX-License-Identifier: MIT
// A VT-d-like IOMMU: per-device context entries naming an I/O domain and the root of its
// 4-level I/O page tables (in machine memory, written by system software), whose level-2 and
// level-3 entries may be superpage leaves (PS bit: 2 MiB, 1 GiB) as far as the large-page
// capability goes; a set-associative LRU IOTLB tagged by domain, caching each translation at
// the size of its leaf; queued invalidation (page-selective with an address mask,
// domain-selective, global) completed by a wait descriptor; and the caching-mode capability:
// with caching mode on, the IOTLB also caches not-present translations, so software must
// invalidate after making an entry present. DMA requests are translated (IOTLB, else a walk
// that fills it); a request to an address that is not mapped, or a write to a read-only one, is
// blocked, counted and logged, and moves no data. Knows nothing of Xen.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
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
// PS: at level 2 or 3 the entry maps a 2 MiB or 1 GiB block itself (must be aligned to it).
inline constexpr uint64_t kSuperpage = 1ULL << 7;
inline constexpr uint64_t kAddrMask = 0x000ffffffffff000ULL;
}  // namespace iopte

struct IommuParams {
  uint32_t iotlb_entries = 64;  // reach 256 KiB with 4 KiB pages (cost-sources §4, pcie-bench)
  uint32_t iotlb_ways = 4;
  bool caching_mode = false;  // CM: emulated / nested IOMMUs report it
  // SLLPS, the second-level large-page sizes walked: 0 none, 1 2 MiB, 2 also 1 GiB (QEMU's
  // emulated VT-d and server parts report both). A PS entry beyond it is a fault.
  unsigned superpage_levels = 2;
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
  // A copy of `source` (context tables, IOTLB, queue, faults) translating through `memory`
  // (whose I/O page tables it reads) and charging `ledger`.
  Iommu(const Iommu& source, MachineMemory& memory, sim::Ledger& ledger);
  Iommu(const Iommu&) = delete;
  Iommu& operator=(const Iommu&) = delete;
  // Holds `source`'s state again, in this IOMMU's own storage.
  void restore(const Iommu& source);

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
    uint64_t iova_page = 0;  // the first 4 KiB page it covers
    uint64_t pages = 1;      // 1, or 512 / 262144 for a 2 MiB / 1 GiB superpage
    uint64_t leaf = 0;       // the cached I/O PTE (for a superpage its block's first frame)
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
    unsigned order = 0;  // log2 of the 4 KiB pages the entry covers: 0, 9 or 18
    uint64_t tag = 0;    // the 4 KiB page number >> order
    uint64_t leaf = 0;   // the cached I/O PTE (0 = a cached not-present result, CM only)
    uint64_t last_use = 0;
  };
  struct Leaf {
    uint64_t entry = 0;  // 0 if any level is absent
    unsigned order = 0;
  };
  // VT-d's root table has one context table per bus (device >> 8), of one entry per device and
  // function (device & 0xff); a bus's table exists once a device on it has a context.
  using ContextTable = std::array<Context, 256>;
  const Context& context(uint16_t device) const;
  std::optional<uint64_t> translate(uint16_t device, uint64_t iova, bool write, const char** why);
  Leaf walk(Mfn root, uint64_t iova) const;
  std::size_t set_of(uint64_t tag) const { return tag % sets_; }
  std::size_t lookup(uint16_t domain, uint64_t page) const;  // the way, or ways_.size()

  MachineMemory& memory_;
  sim::Ledger& ledger_;
  IommuParams params_;
  std::array<std::unique_ptr<ContextTable>, 256> buses_;
  std::size_t sets_;
  std::vector<Way> ways_;
  uint64_t tick_ = 0;
  std::vector<InvalidationDescriptor> queue_;
  std::vector<DmaFault> faults_;
};

}  // namespace pib::hw
