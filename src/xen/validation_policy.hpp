// SPDX-License-Identifier: MIT
// How the hypervisor keeps DMA consistent with page-table validation: the seam for designs
// that change it (PiBooster's fine-grained validation is one; src/pibooster/xen/).
//
// Xen's own rule (xen-pv-mmu.md A3, CombinedValidation below) does both in one step: the type
// change that makes a frame a page table also removes it from the IOMMU and waits for the
// IOTLB invalidation, and the change back maps it again. A policy may instead revoke DMA
// separately (the frame table's `dma_revoked` bit) and then skip that IOMMU work.
//
// Called by: the hypervisor, from its type changes (change_type), from mmuext_op for commands
// Xen does not define, and at the end of every mmuext_op invocation. A policy changes frames
// only through the services the Hypervisor offers it (its "validation policies" section), and
// charges through them; it never reaches the guest.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/types.hpp"
#include "xen/frame_table.hpp"

namespace pib::xen {

class Hypervisor;
struct Domain;

class ValidationPolicy {
 public:
  virtual ~ValidationPolicy() = default;
  virtual std::string_view name() const = 0;

  // Whether a type change of this frame across writability must update the IOMMU (and flush
  // its IOTLB) in the same step as validation.
  virtual bool type_change_syncs_iommu(const PageInfo& pg) const = 0;
  // An mmuext command Xen does not define: the policy's own interface. std::nullopt when the
  // policy has no such command (the hypervisor then answers -ENOSYS).
  virtual std::optional<int64_t> extension_op(Hypervisor& xen, uint32_t cmd, Mfn mfn, Domain& d) {
    (void)xen, (void)cmd, (void)mfn, (void)d;
    return std::nullopt;
  }
  // The end of one mmuext_op invocation (batched work completes here).
  virtual void end_of_batch(Hypervisor& xen, Domain& d) { (void)xen, (void)d; }
};

// Xen's rule: page-table and DMA validation are one step.
class CombinedValidation final : public ValidationPolicy {
 public:
  std::string_view name() const override { return "combined"; }
  bool type_change_syncs_iommu(const PageInfo& pg) const override {
    (void)pg;
    return true;
  }
};

}  // namespace pib::xen
