// SPDX-License-Identifier: MIT
// Runs the pibooster CLI in-process and keeps its exit status and both output streams.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "app/cli.hpp"

namespace pib::test {

struct CliResult {
  int rc = 0;
  std::string out, err;
};

inline CliResult call_cli(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  CliResult c;
  c.rc = app::run(args, out, err);
  c.out = out.str();
  c.err = err.str();
  return c;
}

}  // namespace pib::test
