// SPDX-License-Identifier: MIT
// The command line as a testable function: run(args, out, err) returns the exit code.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace pib::app {

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace pib::app
