// SPDX-License-Identifier: MIT
// `pibooster workload`: runs a process workload on the guest kernel under one or more pv-ops
// and prints the mean count of every non-zero counter per operation, side by side.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace pib::app {

extern const char* const kWorkloadHelp;
int cmd_workload(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace pib::app
