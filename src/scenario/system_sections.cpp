// SPDX-License-Identifier: MIT
// [machine], [xen], [guest] and [pibooster]: the parts of the system a scenario file sets.
// What the policies decide (pv-ops, PiBooster's mechanisms), the devices the workload needs
// and the clock (the run's cost profile) are set by the runner, not by the file.
#include <cstdint>

#include "common/types.hpp"
#include "scenario/sections.hpp"

namespace pib::scenario {

namespace {
using Config = system::GuestSystemConfig;
constexpr uint64_t kMinMemoryMib = 16;
constexpr uint64_t kMaxMemoryMib = 65536;
}  // namespace

const TomlSection<Config>& machine_section() {
  static const TomlSection<Config> section{
      "machine",
      {
          {"memory_mib",
           [](const TomlValue& v, Config& c) {
             c.guest_pages = v.integer_in(kMinMemoryMib, kMaxMemoryMib) * kPagesPerMiB;
           },
           [](const Config& c) -> std::optional<std::string> {
             return std::to_string(c.guest_pages / kPagesPerMiB);
           }},
          integer_key<Config>(
              "vcpus", 1, kMaxCpus, [](auto& c) -> auto& { return c.vcpus; }),
          enum_key<Config>(
              "iommu", xen::kIommuModeNames, [](auto& c) -> auto& { return c.iommu; }),
          bool_key<Config>(
              "caching_mode", [](auto& c) -> auto& { return c.iommu_params.caching_mode; }),
          integer_key<Config>(
              "iotlb_entries", 1, 65536,
              [](auto& c) -> auto& { return c.iommu_params.iotlb_entries; }),
          integer_key<Config>(
              "iotlb_ways", 1, 64, [](auto& c) -> auto& { return c.iommu_params.iotlb_ways; }),
          // Devices acting between the steps of every hypercall (left out when off).
          optional_enum_key<Config>(
              "dma_adversary", xen::kDmaAdversaryModeNames, xen::DmaAdversaryMode::kOff,
              [](auto& c) -> auto& { return c.dma_adversary; }),
          // The CPUs' clock runs this many times slower (an emulator); used with a tick.
          number_key<Config>(
              "clock_scale", 1e-6, 1e12, [](auto& c) -> auto& { return c.clock_scale; }),
      },
      [](const Config& c) -> std::string {
        if (c.iommu_params.iotlb_entries % c.iommu_params.iotlb_ways == 0) return "";
        return "machine.iotlb_entries must be a multiple of iotlb_ways";
      }};
  return section;
}

const TomlSection<Config>& xen_section() {
  static const TomlSection<Config> section{
      "xen",
      {enum_key<Config>(
           "generation", xen::kXenGenerationNames,
           [](auto& c) -> auto& { return c.xen_generation; }),
       // Xen's iommu=[no-]superpages; left out when it follows the generation.
       optional_enum_key<Config>(
           "iommu_superpages", xen::kIommuSuperpagesNames, xen::IommuSuperpages::kDefault,
           [](auto& c) -> auto& { return c.iommu_superpages; }),
       // XSA-288's fix on a paper-era Xen (the patched 4.8-4.11 stable releases); left out
       // when it follows the generation.
       optional_enum_key<Config>(
           "xsa288", xen::kXsa288Names, xen::Xsa288::kDefault,
           [](auto& c) -> auto& { return c.xsa288; })},
      [](const Config& c) -> std::string {
        if (c.iommu_superpages == xen::IommuSuperpages::kOn &&
            c.xen_generation != xen::XenGeneration::kModern) {
          return "xen.iommu_superpages = \"on\" needs a modern generation: paper-era Xen has "
                 "no IOMMU superpages";
        }
        if (c.xsa288 == xen::Xsa288::kBackport &&
            c.xen_generation != xen::XenGeneration::kPaperEra) {
          return "xen.xsa288 = \"backport\" is for a paper-era generation: modern Xen has the "
                 "fix";
        }
        return "";
      }};
  return section;
}

const TomlSection<Config>& guest_section() {
  static const TomlSection<Config> section{
      "guest",
      {
          enum_key<Config>(
              "linux", guest::kLinuxGenerationNames,
              [](auto& c) -> auto& { return c.linux_generation; }, /*bare=*/true),
          integer_key<Config>(
              "randomize_va_space", 0, 2, [](auto& c) -> auto& { return c.randomize_va_space; }),
          integer_key<Config>(
              "hz", 0, 10000, [](auto& c) -> auto& { return c.hz; }),
      }};
  return section;
}

const TomlSection<pibooster::PtCacheParams>& pibooster_section() {
  using P = pibooster::PtCacheParams;
  static const TomlSection<P> section{
      "pibooster",
      {
          integer_key<P>(
              "capacity", 1, 1u << 20, [](auto& p) -> auto& { return p.capacity; }),
          integer_key<P>(
              "low_watermark", 0, 1u << 20, [](auto& p) -> auto& { return p.low_watermark; }),
          integer_key<P>(
              "high_watermark", 1, 1u << 20, [](auto& p) -> auto& { return p.high_watermark; }),
          integer_key<P>(
              "refill_batch", 1, 4096, [](auto& p) -> auto& { return p.refill_batch; }),
          integer_key<P>(
              "release_batch", 1, 4096, [](auto& p) -> auto& { return p.release_batch; }),
          bool_key<P>(
              "rcu_reuse", [](auto& p) -> auto& { return p.rcu_reuse; }),
          bool_key<P>(
              "shrinker", [](auto& p) -> auto& { return p.shrinker; }),
          bool_key<P>(
              "adaptive", [](auto& p) -> auto& { return p.adaptive; }),
          integer_key<P>(
              "memory_cap", 1, 1u << 24, [](auto& p) -> auto& { return p.memory_cap; }),
          integer_key<P>(
              "epoch_ops", 1, 1u << 24, [](auto& p) -> auto& { return p.sizing.epoch_ops; }),
          integer_key<P>(
              "keep_pct", 0, 100, [](auto& p) -> auto& { return p.sizing.keep_pct; }),
      },
      [](const P& p) -> std::string {
        if (p.low_watermark < p.high_watermark && p.high_watermark <= p.capacity) return "";
        return "pibooster: need low_watermark < high_watermark <= capacity";
      }};
  return section;
}

}  // namespace pib::scenario
