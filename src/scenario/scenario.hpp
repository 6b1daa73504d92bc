// SPDX-License-Identifier: MIT
// A scenario: everything a run depends on, as a TOML file — machine, hypervisor and guest
// generations, the policies to compare, the workload with its parameters, iterations, warm-up
// and seed. Built-in scenarios are the files of scenarios/ compiled into the binary.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "guest/xen/xen_pv_ops.hpp"
#include "hw/iommu.hpp"
#include "pibooster/guest/pt_cache.hpp"
#include "workload/workload.hpp"
#include "xen/domain.hpp"
#include "xen/params.hpp"

namespace pib::scenario {

struct Scenario {
  std::string name;
  std::string description;
  std::string origin;  // file path or "built-in:<name>"
  uint64_t memory_mib = 128;
  uint32_t vcpus = 1;
  xen::IommuMode iommu = xen::IommuMode::kNone;  // [machine] iommu = "none" | "sync" | "relaxed"
  hw::IommuParams iommu_params{};
  xen::XenGeneration xen_generation = xen::XenGeneration::kModern;
  guest::LinuxGeneration linux_generation = guest::LinuxGeneration::kLinux6;
  // [guest] randomize_va_space: Linux's sysctl (0 off, 1, 2 = default); layouts drawn from seed.
  int randomize_va_space = 2;
  // [guest] hz: the guest kernel's tick (CONFIG_HZ), on the CPUs' clock run by the scenario's
  // cost profile; long hypercalls it lands in are preempted and continue. 0 (default): no tick.
  uint32_t hz = 0;
  std::vector<std::string> policies = {"baseline", "native"};
  pibooster::PtCacheParams ptcache{};  // [pibooster]: the cache's knobs
  // [paper]: the paper's figure this scenario reproduces (printed beside the model's).
  std::string paper_claim;
  std::optional<double> paper_latency_pct;  // change of the mean latency, pibooster vs baseline
  std::optional<double> paper_pt_work_pct;  // change of page-table (de)allocation time
  std::string workload;
  workload::Params params;
  uint64_t iterations = 50;
  uint64_t warmup = 5;
  uint64_t seed = 1;

  static Scenario parse(const std::string& text, const std::string& origin);
  static Scenario load(const std::string& path);
  // The resolved scenario as TOML (loadable again).
  std::string to_toml() const;
};

struct BuiltinScenario {
  std::string name;
  std::string text;
};
const std::vector<BuiltinScenario>& builtin_scenarios();
// A built-in name or a path to a .toml file.
Scenario find_scenario(const std::string& name_or_path);

}  // namespace pib::scenario
