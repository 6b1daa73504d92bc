// SPDX-License-Identifier: MIT
// The policy table. Adding a policy: its implementation in one file under src/pibooster/ (a
// class behind one of the seams and a factory function), the factory's declaration below, and
// one row in the table (docs/adding-a-policy.md).
#include "policies/policy_table.hpp"

#include <array>

#include "common/error.hpp"
#include "cost/cost_model.hpp"
#include "pibooster/guest/hybrid_source.hpp"
#include "pibooster/guest/per_tree_dma_pool.hpp"
#include "pibooster/guest/pinned_cache.hpp"
#include "pibooster/guest/pt_cache.hpp"
#include "pibooster/xen/pt_pool_validation.hpp"
#include "pibooster/xen/pt_pool_validation_2016.hpp"

namespace pib::pibooster {
// Designs implemented in a single .cpp declare their factory here.
std::unique_ptr<guest::PtPageSource> make_linux_quicklist(guest::KernelCore& core);
}  // namespace pib::pibooster

namespace pib::policies {

namespace {

constexpr const char* kDefaultDesignProfile = "paper-era-server";

using system::DeltaContext;
using system::GuestSystemConfig;
using system::PvOpsKind;

// PiBooster's pieces, shared by the full design and its ablations.
std::unique_ptr<guest::PtPageSource> pibooster_cache(const DeltaContext& ctx) {
  return std::make_unique<pibooster::PageTableCache>(ctx.core, ctx.config.ptcache, ctx.pool);
}
std::unique_ptr<guest::PtPageSource> pibooster_cache_without_pool(const DeltaContext& ctx) {
  return std::make_unique<pibooster::PageTableCache>(ctx.core, ctx.config.ptcache, ctx.no_pool);
}
std::unique_ptr<xen::ValidationPolicy> pibooster_validation(const GuestSystemConfig&) {
  return std::make_unique<pibooster::PtPoolValidation>();
}
// Tables kept pinned between uses (XenoLinux 2.4's quicklists), sized by [pibooster].
pibooster::PinnedCacheParams pinned_params(const GuestSystemConfig& c) {
  return pibooster::PinnedCacheParams{.refill_batch = c.ptcache.refill_batch,
                                      .high_watermark = c.ptcache.high_watermark,
                                      .release_batch = c.ptcache.release_batch,
                                      .capacity = c.ptcache.capacity,
                                      .memory_cap = c.ptcache.memory_cap,
                                      .rcu_reuse = c.ptcache.rcu_reuse,
                                      .adaptive = c.ptcache.adaptive,
                                      .sizing = c.ptcache.sizing};
}
// The profile a cost-driven design decides by: the run's, else the default one.
std::array<double, sim::kEventCount> design_costs(const GuestSystemConfig& c) {
  if (c.design_costs) return *c.design_costs;
  return cost::unit_costs(cost::find_profile(kDefaultDesignProfile));
}
// The whole design; its variants below change one part of it.
void use_pibooster(GuestSystemConfig& c) {
  c.pvops = PvOpsKind::kXen;
  c.delta.pt_pages = pibooster_cache;
  c.delta.xen_validation = pibooster_validation;
}

constexpr std::array kTable = {
    Policy{"baseline", "Xen PV guest with Linux's Xen paths (the system PiBooster improves on)",
           [](GuestSystemConfig& c) { c.pvops = PvOpsKind::kXen; }},
    Policy{"native", "the same kernel on bare metal (no hypervisor): the reference",
           [](GuestSystemConfig& c) { c.pvops = PvOpsKind::kNative; }},
    Policy{"no-iommu",
           "Xen PV as baseline, but the domain does not use the IOMMU (no DMA protection)",
           [](GuestSystemConfig& c) {
             c.pvops = PvOpsKind::kXen;
             c.iommu = xen::IommuMode::kNone;
           }},
    Policy{"pibooster", "Xen PV with PiBooster: the page-table cache and fine-grained validation",
           use_pibooster},
    Policy{"pibooster-fixed",
           "PiBooster with fixed per-level watermarks instead of adaptive sizing ([pibooster] "
           "low/high_watermark)",
           [](GuestSystemConfig& c) {
             use_pibooster(c);
             c.ptcache.adaptive = false;
           }},
    Policy{"pibooster-2016",
           "UNSOUND, kept to compare: PiBooster as first built (a frame counts as pooled before "
           "its IOTLB invalidation; tables reused before an RCU grace period; no shrinker; fixed "
           "watermarks)",
           [](GuestSystemConfig& c) {
             use_pibooster(c);
             c.delta.xen_validation =
                 [](const GuestSystemConfig&) -> std::unique_ptr<xen::ValidationPolicy> {
               return std::make_unique<pibooster::PtPoolValidation2016>();
             };
             c.ptcache.rcu_reuse = false;
             c.ptcache.shrinker = false;
             c.ptcache.adaptive = false;
           }},
    Policy{"pibooster-cache-only", "ablation: the guest's page-table cache, Xen unchanged",
           [](GuestSystemConfig& c) {
             c.pvops = PvOpsKind::kXen;
             c.delta.pt_pages = pibooster_cache_without_pool;
           }},
    Policy{"pibooster-validation-only",
           "ablation: Xen's page-table pool interface, used per tree without a cache",
           [](GuestSystemConfig& c) {
             c.pvops = PvOpsKind::kXen;
             c.delta.dma_pool =
                 [](const DeltaContext& ctx) -> std::unique_ptr<guest::DmaPoolStrategy> {
               return std::make_unique<pibooster::PerTreeDmaPool>(ctx.pool);
             };
             c.delta.xen_validation = pibooster_validation;
           }},
    Policy{"xenolinux-quicklist",
           "XenoLinux 2.4's quicklists: tables cached pinned, read-only and empty per level, "
           "entries validated one by one; Xen unchanged",
           [](GuestSystemConfig& c) {
             c.pvops = PvOpsKind::kXen;
             c.delta.pt_pages =
                 [](const DeltaContext& ctx) -> std::unique_ptr<guest::PtPageSource> {
               return std::make_unique<pibooster::PinnedTableCache>(
                   ctx.core, pinned_params(ctx.config), ctx.pin, ctx.no_pool);
             };
           }},
    Policy{"pibooster-plus",
           "PiBooster's pool under two caches: sparse trees from pinned tables (no pin, no "
           "unpin), dense ones writable and pinned as a tree; threshold from the cost profile",
           [](GuestSystemConfig& c) {
             use_pibooster(c);
             c.delta.pt_pages =
                 [](const DeltaContext& ctx) -> std::unique_ptr<guest::PtPageSource> {
               return std::make_unique<pibooster::HybridTableSource>(
                   ctx.core, ctx.config.ptcache, pinned_params(ctx.config), ctx.pin, ctx.pool,
                   pibooster::DensityThreshold::from_costs(design_costs(ctx.config)));
             };
           }},
    Policy{"linux-quicklist",
           "Linux's pre-5.4 quicklists on Xen PV: freed tables kept zeroed per level, trimmed, Xen "
           "unchanged",
           [](GuestSystemConfig& c) {
             c.pvops = PvOpsKind::kXen;
             c.delta.pt_pages = [](const DeltaContext& ctx) {
               return pibooster::make_linux_quicklist(ctx.core);
             };
           }},
};

}  // namespace

std::span<const Policy> policy_table() {
  return kTable;
}

const Policy& find_policy(std::string_view name) {
  for (const Policy& p : kTable) {
    if (p.name == name) return p;
  }
  std::string valid;
  for (const Policy& p : kTable) valid += (valid.empty() ? "" : ", ") + std::string(p.name);
  throw InputError("unknown policy '" + std::string(name) + "' (valid: " + valid + ")");
}

void apply_policy(std::string_view name, system::GuestSystemConfig& config) {
  find_policy(name).configure(config);
}

}  // namespace pib::policies
