// SPDX-License-Identifier: MIT
// When page-table pages enter and leave the hypervisor's DMA-revoked pool (PtPoolPort), seen
// from the Xen pv-ops' pin paths: the seam for the validation-only PiBooster design, which
// revokes whole trees around their pin and unpin (src/pibooster/guest/).
//
// Called by: the Xen pv-ops, around xen_pgd_pin/xen_pgd_unpin and around the alloc/release
// hooks of single tables in a pinned mm. The default, NoDmaPool, leaves the pool unused — or to
// the page-table page source, which may keep its pages pooled while it holds them.
#pragma once

#include <functional>
#include <vector>

#include "common/types.hpp"

namespace pib::guest {

class DmaPoolStrategy {
 public:
  virtual ~DmaPoolStrategy() = default;
  // Before a tree is pinned; `tree()` walks it and returns its table pages (the walk reads
  // the tables, so a strategy that does not need them does not call it).
  virtual void before_tree_pin(const std::function<std::vector<Pfn>()>& tree) { (void)tree; }
  // After a tree is unpinned (its pages writable again).
  virtual void after_tree_unpin(const std::vector<Pfn>& tree) { (void)tree; }
  // Before a single new table of a pinned mm is made read-only and pinned; after one is
  // released (writable again).
  virtual void before_table_pin(Pfn page) { (void)page; }
  virtual void after_table_release(Pfn page) { (void)page; }
};

class NoDmaPool final : public DmaPoolStrategy {};

}  // namespace pib::guest
