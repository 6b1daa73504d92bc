// SPDX-License-Identifier: MIT
// A scenario: everything a run depends on, as a TOML file — machine, hypervisor and guest
// generations, the policies to compare, the workload with its parameters, iterations, warm-up
// and seed. Built-in scenarios are the files of scenarios/ compiled into the binary.
//
// The system part is the system's own configuration, read and written by one table of keys
// per section (scenario/sections.hpp): the runner starts every policy's system from it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/types.hpp"
#include "system/guest_system.hpp"
#include "workload/workload.hpp"

namespace pib::scenario {

// [workload]: what one operation runs, and its parameters ([workload.params]).
struct WorkloadSpec {
  std::string name;
  workload::Params params;
};

// [paper]: the paper's figure this scenario reproduces (printed beside the model's).
struct PaperClaim {
  std::string claim;
  std::optional<double> latency_pct;  // change of the mean latency, pibooster vs baseline
  std::optional<double> pt_work_pct;  // change of page-table (de)allocation time
};

struct Scenario {
  // [scenario]
  std::string name;
  std::string description;
  std::string origin;  // file path or "built-in:<name>"
  uint64_t iterations = 50;
  uint64_t warmup = 5;
  std::vector<std::string> policies = {"baseline", "native"};
  // [machine], [xen], [guest], [pibooster] (system.ptcache) and [scenario] seed (system.seed).
  // The policy, the workload's devices and the clock are set per run by the runner.
  system::GuestSystemConfig system;
  WorkloadSpec workload;
  PaperClaim paper;

  uint64_t memory_mib() const { return system.guest_pages / kPagesPerMiB; }

  static Scenario parse(const std::string& text, const std::string& origin);
  static Scenario load(const std::string& path);
  // The resolved scenario as TOML (loadable again), written by the tables that parse it.
  std::string to_toml() const;
  // Sets one key, "section.key" or "workload.params.NAME", from text as the file would (a
  // command-line flag, a sweep's axis); errors, an unknown key among them, name `where`.
  void set(std::string_view dotted_key, const std::string& text, const std::string& where);
};

// Checks a list of policy names (InputError naming the valid ones).
void check_policies(const std::vector<std::string>& policies);

struct BuiltinScenario {
  std::string name;
  std::string text;
};
const std::vector<BuiltinScenario>& builtin_scenarios();
// A built-in name or a path to a .toml file.
Scenario find_scenario(const std::string& name_or_path);

}  // namespace pib::scenario
