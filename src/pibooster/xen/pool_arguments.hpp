// SPDX-License-Identifier: MIT
// The argument rules of MMUEXT_PT_POOL_ADD and _REMOVE, the same for every design of the pool
// (pt_pool_validation*.cpp): which frames may enter the pool and which may leave it. Each returns
// the error to answer, or kOk when the command may go ahead.
#pragma once

#include <cstdint>

#include "abi/hypercall.hpp"
#include "xen/hypervisor.hpp"

namespace pib::pibooster {

inline int64_t pool_add_refusal(const xen::Hypervisor& xen, Mfn mfn, const xen::Domain& d) {
  if (!xen.frame_table().valid(mfn)) return abi::err::kEINVAL;
  const xen::PageInfo& pg = xen.frame_table()[mfn];
  if (pg.owner != d.id || !pg.allocated) return abi::err::kEPERM;  // not the guest's frame
  if (pg.dma_revoked) return abi::err::kEEXIST;                    // double insert
  // Only frames not in use with another fixed type (descriptor tables and the like).
  if (pg.type != xen::PageType::kWritable && pg.type != xen::PageType::kNone &&
      !xen::is_pt_type(pg.type)) {
    return abi::err::kEINVAL;
  }
  return abi::err::kOk;
}

inline int64_t pool_remove_refusal(const xen::Hypervisor& xen, Mfn mfn, const xen::Domain& d) {
  if (!xen.frame_table().valid(mfn)) return abi::err::kEINVAL;
  const xen::PageInfo& pg = xen.frame_table()[mfn];
  if (pg.owner != d.id || !pg.allocated) return abi::err::kEPERM;
  if (!pg.dma_revoked) return abi::err::kENOENT;  // not pooled (double remove)
  // Restoring DMA to a frame in use as a page table is refused.
  if (xen::is_pt_type(pg.type) && pg.type_count > 0) return abi::err::kEBUSY;
  return abi::err::kOk;
}

}  // namespace pib::pibooster
