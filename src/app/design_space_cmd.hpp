// SPDX-License-Identifier: MIT
// `pibooster design-space`: every page-table design on every workload that tells them apart,
// one table, each figure against baseline on the same profile and seed with its 90 % interval.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace pib::app {

extern const char* const kDesignSpaceHelp;
int cmd_design_space(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace pib::app
