// SPDX-License-Identifier: MIT
// `pibooster fidelity` and `pibooster snapshot`.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace pib::app {

extern const char* const kFidelityHelp;
extern const char* const kSnapshotHelp;
int cmd_fidelity(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int cmd_snapshot(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace pib::app
