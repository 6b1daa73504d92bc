// SPDX-License-Identifier: MIT
// A DMA adversary: devices acting between any two internal steps of a hypercall. Installed as
// the hypervisor's interleaving observer (xen/interleaving.hpp); optional, chosen at run time
// (scenario `[machine] dma_adversary`, tests), nothing when absent.
//
//   audit   at every point, checks (without side effects) that no frame that is a page table in
//           use or under validation (a page-table type with a type reference) is DMA-writable,
//           through the domain's I/O page tables or through any IOTLB entry — stale ones
//           included, since a cached translation is used until it is invalidated — and that no
//           IOTLB entry writes a frame its domain does not own (a freed frame).
//   attack  audit, and the device really tries: a DMA write, through the IOMMU and its IOTLB
//           as cached, into every validated table it can name at that point (one under
//           validation would only have its scan see the write). A write that lands is the
//           exploit: a device-written PTE the hypervisor never checked.
//
// Reads the hypervisor's frame table and I/O page tables; the attack's DMA is charged like any
// device work (to `clock`). A chained observer (a test playing another vCPU) runs after it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/names.hpp"
#include "xen/interleaving.hpp"

namespace pib::xen {

enum class DmaAdversaryMode : uint8_t { kOff, kAudit, kAttack };
inline constexpr auto kDmaAdversaryModeNames =
    make_names<DmaAdversaryMode>("DMA adversary mode", {{DmaAdversaryMode::kOff, "off"},
                                                        {DmaAdversaryMode::kAudit, "audit"},
                                                        {DmaAdversaryMode::kAttack, "attack"}});
inline std::string_view name_of(DmaAdversaryMode m) {
  return kDmaAdversaryModeNames.name_of(m);
}

struct DmaAdversaryParams {
  DmaAdversaryMode mode = DmaAdversaryMode::kAudit;
  uint16_t device = 0;  // attack: the device whose DMA is used (assigned to the domain)
  uint32_t clock = 0;   // attack: the ledger clock its DMA is charged to
  uint64_t entry = 0;   // attack: the 8-byte entry of the table it writes
  // attack: the word written; none = the word already there (a landed write then proves
  // writability without changing the table).
  std::optional<uint64_t> payload = std::nullopt;
  std::size_t keep = 16;  // findings kept verbatim (all are counted)
};

class DmaAdversary final : public InterleavingObserver {
 public:
  explicit DmaAdversary(DmaAdversaryParams params) : params_(params) {}
  void at(Hypervisor& xen, const InterleavingPoint& point) override;
  void chain(InterleavingObserver* next) { next_ = next; }

  const DmaAdversaryParams& params() const { return params_; }
  uint64_t points() const { return points_; }
  // Invariant violations found (audit) and device writes that landed in a page table (attack).
  uint64_t violations() const { return violations_; }
  uint64_t writes_attempted() const { return attempted_; }
  uint64_t writes_landed() const { return landed_; }
  // The first `keep` findings, each naming the step, the vCPU and the frame.
  const std::vector<std::string>& findings() const { return findings_; }
  // One line summing up, empty when nothing was found.
  std::string summary() const;

 private:
  void note(const InterleavingPoint& p, const std::string& what);
  void attack(Hypervisor& xen, const InterleavingPoint& p, Mfn target);

  DmaAdversaryParams params_;
  InterleavingObserver* next_ = nullptr;
  uint64_t points_ = 0;
  uint64_t violations_ = 0;
  uint64_t attempted_ = 0;
  uint64_t landed_ = 0;
  std::vector<std::string> findings_;
  bool busy_ = false;  // its own DMA announces nothing, but guard against re-entry anyway
};

}  // namespace pib::xen
