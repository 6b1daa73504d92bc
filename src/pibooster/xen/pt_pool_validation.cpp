// SPDX-License-Identifier: MIT
#include "pibooster/xen/pt_pool_validation.hpp"

#include "abi/hypercall.hpp"
#include "common/error.hpp"
#include "pibooster/xen/pool_arguments.hpp"
#include "xen/hypervisor.hpp"

namespace pib::pibooster {

using xen::PageInfo;
using xen::PageType;
using xen::Step;

std::optional<int64_t> PtPoolValidation::extension_op(xen::Hypervisor& xen, uint32_t cmd, Mfn mfn,
                                                      xen::Domain& d, VcpuId vcpu) {
  switch (cmd) {
    case abi::kMmuextPtPoolAdd:
      return add(xen, mfn, d, vcpu);
    case abi::kMmuextPtPoolRemove:
      return remove(xen, mfn, d, vcpu);
    default:
      return std::nullopt;
  }
}

int64_t PtPoolValidation::add(xen::Hypervisor& xen, Mfn mfn, xen::Domain& d, VcpuId vcpu) {
  if (const int64_t refused = pool_add_refusal(xen, mfn, d); refused != abi::err::kOk) {
    return refused;
  }
  PageInfo& pg = xen.policy_frame(mfn);
  // Pool state and the pending mark change together, before the entry is cleared: from here
  // to the invalidation the frame is in the pool but not yet revoked.
  pg.dma_revoked = true;
  pg.dma_revoke_pending = true;
  const auto cleared =
      d.need_iommu_sync() ? xen.iommu_clear(d, mfn) : xen::Hypervisor::IoClear::kNotMapped;
  if (cleared == xen::Hypervisor::IoClear::kNoMemory) {
    // In an I/O superpage with no frame to split it: nothing changed (no step ran since the
    // marks), and the frame does not enter the pool.
    PageInfo& back = xen.policy_frame(mfn);
    back.dma_revoked = false;
    back.dma_revoke_pending = false;
    return abi::err::kENOMEM;
  }
  if (cleared == xen::Hypervisor::IoClear::kCleared) {
    // Invalidated once for the calling vCPU's whole batch (end_of_batch).
    batches_[{d.id, vcpu}].unmapped.push_back(mfn);
  } else {
    xen.policy_frame(mfn).dma_revoke_pending = false;  // nothing was reachable: revoked now
  }
  xen.interleave(Step::kPoolChange, mfn, true);
  return abi::err::kOk;
}

int64_t PtPoolValidation::remove(xen::Hypervisor& xen, Mfn mfn, xen::Domain& d, VcpuId vcpu) {
  if (const int64_t refused = pool_remove_refusal(xen, mfn, d); refused != abi::err::kOk) {
    return refused;
  }
  const PageInfo& pg = xen.frame_table()[mfn];
  if (!d.need_iommu_sync() || pg.type != PageType::kWritable) {
    // No mapping comes back: the normal type-change hook maps the frame on its next writable
    // type. An invalidation still in flight completes first, or a cached translation would
    // outlive the pool.
    if (pg.dma_revoke_pending) complete(xen, mfn, d);
    PageInfo& left = xen.policy_frame(mfn);
    left.dma_revoked = false;
    xen.interleave(Step::kPoolChange, mfn, true);
    return abi::err::kOk;
  }
  // A writable type reference, held until the mapping is back: no page-table type can be taken
  // meanwhile (a concurrent pin fails with "bad type"), so the frame never becomes a live table
  // while it is, or is about to be, DMA-writable. Taken in the same step as leaving the pool.
  if (xen.policy_get_page_type(mfn, PageType::kWritable, d) != abi::err::kOk) {
    return abi::err::kEBUSY;
  }
  PageInfo& out = xen.policy_frame(mfn);
  out.dma_revoked = false;
  out.dma_revoke_pending = false;  // becomes DMA-writable anyway: a cached translation is moot
  xen.interleave(Step::kPoolChange, mfn, true);
  bool needs_flush = false;
  const bool mapped = xen.iommu_restore_unflushed(d, mfn, &needs_flush);
  if (!mapped) {
    PageInfo& back = xen.policy_frame(mfn);
    back.dma_revoked = true;  // still cleared in the IOMMU: it stays in the pool
  }
  xen.policy_put_page_type(mfn, d);
  if (!mapped) return abi::err::kENOMEM;
  // (Looked up after the steps above: a teardown at one of them may have dropped the batch.)
  if (needs_flush) batches_[{d.id, vcpu}].flush_for_map = true;
  return abi::err::kOk;
}

void PtPoolValidation::complete(xen::Hypervisor& xen, Mfn mfn, xen::Domain& d) {
  // The clear is repeated (a no-op once done): on a real machine another CPU may get here
  // between ADD's mark and its clear. It never has a superpage to split: ADD's clear split it
  // before any other step could run, or ADD failed and left the frame out of the pool.
  if (xen.iommu_clear(d, mfn) == xen::Hypervisor::IoClear::kNoMemory) {
    model_bug("page-table pool: a pending frame still inside an I/O superpage");
  }
  xen.iommu_flush_page(d, mfn);
  xen.policy_frame(mfn).dma_revoke_pending = false;
}

void PtPoolValidation::flush(xen::Hypervisor& xen, xen::Domain& d, Batch& b) {
  // Frames completed early (a page-table use, a free, a remove) or no longer the domain's
  // need nothing more.
  std::vector<Mfn> pending;
  for (const Mfn m : b.unmapped) {
    const PageInfo& pg = xen.frame_table()[m];
    if (pg.owner == d.id && pg.dma_revoke_pending) pending.push_back(m);
  }
  if (pending.size() == 1 && !b.flush_for_map) {
    xen.iommu_flush_page(d, pending.front());
  } else if (!pending.empty() || b.flush_for_map) {
    xen.iommu_flush_domain(d);
  }
  for (const Mfn m : pending) xen.policy_frame(m).dma_revoke_pending = false;
  b.unmapped.clear();
  b.flush_for_map = false;
}

void PtPoolValidation::end_of_batch(xen::Hypervisor& xen, xen::Domain& d, VcpuId vcpu) {
  const auto it = batches_.find({d.id, vcpu});
  if (it == batches_.end()) return;
  flush(xen, d, it->second);
  batches_.erase(it);
}

void PtPoolValidation::before_page_table_use(xen::Hypervisor& xen, Mfn mfn, xen::Domain& d) {
  // The frame may be pending in any vCPU's batch, this one's or another's: completing it here
  // is what makes "revoked" true before the validation that relies on it.
  if (xen.frame_table()[mfn].dma_revoke_pending) complete(xen, mfn, d);
}

void PtPoolValidation::before_free(xen::Hypervisor& xen, Mfn mfn) {
  // A free frame may be handed to anybody next (Xen's own I/O tables included): no cached
  // translation of the old owner may survive it.
  const PageInfo& pg = xen.frame_table()[mfn];
  if (pg.dma_revoke_pending) complete(xen, mfn, xen.domain(pg.owner));
}

void PtPoolValidation::domain_teardown(xen::Hypervisor& xen, xen::Domain& d) {
  for (auto it = batches_.begin(); it != batches_.end();) {
    if (it->first.first != d.id) {
      ++it;
      continue;
    }
    flush(xen, d, it->second);
    it = batches_.erase(it);
  }
}

std::size_t PtPoolValidation::pending_revocations() const {
  std::size_t n = 0;
  for (const auto& [key, b] : batches_) n += b.unmapped.size();
  return n;
}

}  // namespace pib::pibooster
