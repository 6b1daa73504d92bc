// SPDX-License-Identifier: MIT
// How the hypervisor keeps DMA consistent with page-table validation: the seam for designs
// that change it (PiBooster's fine-grained validation is one; src/pibooster/xen/).
//
// Xen's own rule (xen-pv-mmu.md A3, CombinedValidation below) does both in one step: the type
// change that makes a frame a page table also removes it from the IOMMU and waits for the
// IOTLB invalidation, and the change back maps it again. A policy may instead revoke DMA
// separately (the frame table's `dma_revoked` bit) and then skip that IOMMU work.
//
// Called by: the hypervisor, from its type changes (change_type, get_page_type), from mmuext_op
// for commands Xen does not define and at the end of every mmuext_op invocation, when a frame
// is freed, and at domain teardown. A policy changes frames
// only through the services the Hypervisor offers it (its "validation policies" section), and
// charges through them; it never reaches the guest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
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
  // A copy of the policy's state, for a hypervisor restored from a snapshot (Hypervisor's copy).
  virtual std::unique_ptr<ValidationPolicy> clone() const = 0;

  // Whether a type change of this frame across writability must update the IOMMU (and flush
  // its IOTLB) in the same step as validation.
  virtual bool type_change_syncs_iommu(const PageInfo& pg) const = 0;
  // Whether `cmd` (an mmuext command Xen does not define) is one of the policy's own.
  virtual bool has_extension_op(uint32_t cmd) const {
    (void)cmd;
    return false;
  }
  // An mmuext command Xen does not define: the policy's own interface, issued by `vcpu` of `d`
  // on its own frames (with a foreign page owner the hypervisor refuses the policy's commands
  // before they get here). std::nullopt when the policy has no such command (the hypervisor
  // then answers -ENOSYS).
  virtual std::optional<int64_t> extension_op(Hypervisor& xen, uint32_t cmd, Mfn mfn, Domain& d,
                                              VcpuId vcpu) {
    (void)xen, (void)cmd, (void)mfn, (void)d, (void)vcpu;
    return std::nullopt;
  }
  // The end of one mmuext_op invocation by `vcpu` (its batched work completes here).
  virtual void end_of_batch(Hypervisor& xen, Domain& d, VcpuId vcpu) {
    (void)xen, (void)d, (void)vcpu;
  }
  // A frame the policy revoked from DMA (`dma_revoked`) is about to take its first page-table
  // type reference: a type change and a validation follow. Whatever revocation is still in
  // flight must complete here, before the hypervisor relies on the frame being unreachable.
  virtual void before_page_table_use(Hypervisor& xen, Mfn mfn, Domain& d) {
    (void)xen, (void)mfn, (void)d;
  }
  // A frame the policy revoked from DMA lost its last reference and is about to go back to
  // Xen's free list (its frame-table record is then reset).
  virtual void before_free(Hypervisor& xen, Mfn mfn) { (void)xen, (void)mfn; }
  // The domain is being torn down: nothing of it may stay pending.
  virtual void domain_teardown(Hypervisor& xen, Domain& d) { (void)xen, (void)d; }
  // Frames whose DMA revocation has not completed yet (auditors, tests).
  virtual std::size_t pending_revocations() const { return 0; }
};

// Xen's rule: page-table and DMA validation are one step.
class CombinedValidation final : public ValidationPolicy {
 public:
  std::string_view name() const override { return "combined"; }
  std::unique_ptr<ValidationPolicy> clone() const override {
    return std::make_unique<CombinedValidation>(*this);
  }
  bool type_change_syncs_iommu(const PageInfo& pg) const override {
    (void)pg;
    return true;
  }
};

}  // namespace pib::xen
