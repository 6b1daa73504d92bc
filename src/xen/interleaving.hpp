// SPDX-License-Identifier: MIT
// Interleaving points: the internal steps of a hypercall at which, on real hardware, a device
// could complete a DMA or another vCPU could run hypervisor code. The model's hypervisor is
// sequential; it announces these points to an optional observer (a DMA adversary, an auditor, a
// test playing a second vCPU), which then acts "between" the two steps. With no observer an
// announcement is one pointer test.
//
// Who calls: the Hypervisor at every I/O page-table write, IOTLB invalidation, type change,
// validation, frame free, continuation and between the operations of an mmuext_op batch; validation
// policies at the steps of their own commands (Hypervisor::interleave).
// What an observer may do: at every point, DMA (through hw::Iommu) and read any state. Only at
// points marked `reentrant` may it also enter the hypervisor on another vCPU (a hypercall,
// Hypervisor::destroy_domain): the announcing vCPU then holds no frame-table state on its
// stack, as Xen's own updates of one frame's type word are atomic (cmpxchg) and everything
// else is re-read after the point.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/names.hpp"
#include "common/types.hpp"

namespace pib::xen {

class Hypervisor;

enum class Step : uint8_t {
  kIommuEntry,        // an I/O PTE was written (cleared, or made present)
  kIotlbInvalidate,   // an IOTLB invalidation is about to be issued
  kIotlbInvalidated,  // ... and has completed (the wait descriptor returned)
  kTypeChange,        // a frame's type changed (its IOMMU work for the change is done)
  kValidateBegin,     // a frame holds its first type reference and is about to be validated
  kValidateEnd,       // ... and is validated
  kBetweenOps,        // one operation of a batch is done, the next (or the batch end) follows
  kPoolChange,        // a validation policy changed a frame's pool state (its own commands)
  kFrameFreed,        // a frame's last reference went: it is back on Xen's free list
  kContinuation,      // a hypercall went back to the guest through a continuation and is about
                      // to re-enter (a preempted table may be PGT_partial in between)
};
inline constexpr auto kStepNames =
    make_names<Step>("interleaving step", {{Step::kIommuEntry, "iommu-entry"},
                                           {Step::kIotlbInvalidate, "iotlb-invalidate"},
                                           {Step::kIotlbInvalidated, "iotlb-invalidated"},
                                           {Step::kTypeChange, "type-change"},
                                           {Step::kValidateBegin, "validate-begin"},
                                           {Step::kValidateEnd, "validate-end"},
                                           {Step::kBetweenOps, "between-ops"},
                                           {Step::kPoolChange, "pool-change"},
                                           {Step::kFrameFreed, "frame-freed"},
                                           {Step::kContinuation, "continuation"}});
inline std::string_view name_of(Step s) {
  return kStepNames.name_of(s);
}

struct InterleavingPoint {
  Step step = Step::kBetweenOps;
  DomId domain = 0;
  VcpuId vcpu = 0;         // the vCPU whose hypercall announces the point
  Mfn mfn = kInvalidMfn;   // the frame the step concerns (kInvalidMfn: none, e.g. a
                           // domain-wide invalidation)
  bool reentrant = false;  // another vCPU may enter the hypervisor here
};

class InterleavingObserver {
 public:
  virtual ~InterleavingObserver() = default;
  virtual void at(Hypervisor& xen, const InterleavingPoint& point) = 0;
};

}  // namespace pib::xen
