// SPDX-License-Identifier: MIT
// The validation-only PiBooster ablation's use of the hypervisor's page-table pool: without a
// cache, a whole tree is revoked from DMA in one batch (one IOTLB invalidation) before it is
// pinned and restored in one batch after it is unpinned; single tables of a pinned mm go in
// and out one by one around their alloc/release hooks.
#pragma once

#include "guest/dma_pool.hpp"
#include "guest/pt_pool_port.hpp"

namespace pib::pibooster {

class PerTreeDmaPool final : public guest::DmaPoolStrategy {
 public:
  explicit PerTreeDmaPool(guest::PtPoolPort& pool) : pool_(pool) {}
  void before_tree_pin(const std::function<std::vector<Pfn>()>& tree) override {
    pool_.pool_add(tree());
  }
  void after_tree_unpin(const std::vector<Pfn>& tree) override { pool_.pool_remove(tree); }
  void before_table_pin(Pfn page) override { pool_.pool_add({page}); }
  void after_table_release(Pfn page) override { pool_.pool_remove({page}); }

 private:
  guest::PtPoolPort& pool_;
};

}  // namespace pib::pibooster
