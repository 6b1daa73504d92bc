// SPDX-License-Identifier: MIT
// `pibooster workload`: a front end over the scenario runner for one workload. Its flags build
// a scenario in memory (the keys a scenario file would set), which runs and prints as
// `pibooster run` does; it can also trace hypercalls and measure the simulator's own memory.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace pib::app {

std::string workload_help();
int cmd_workload(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace pib::app
