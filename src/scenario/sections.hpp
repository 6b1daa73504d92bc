// SPDX-License-Identifier: MIT
// The sections of a scenario file, each a table of keys over the struct it configures:
// [machine], [xen] and [guest] over the system configuration, [pibooster] over the page-table
// cache's parameters, [scenario], [workload] and [paper] over the scenario's own parts.
#pragma once

#include "pibooster/guest/pt_cache.hpp"
#include "scenario/scenario.hpp"
#include "scenario/toml_keys.hpp"
#include "system/guest_system.hpp"

namespace pib::scenario {

const TomlSection<system::GuestSystemConfig>& machine_section();
const TomlSection<system::GuestSystemConfig>& xen_section();
const TomlSection<system::GuestSystemConfig>& guest_section();
const TomlSection<pibooster::PtCacheParams>& pibooster_section();

const TomlSection<Scenario>& scenario_section();
const TomlSection<WorkloadSpec>& workload_section();
const TomlSection<PaperClaim>& paper_section();

}  // namespace pib::scenario
