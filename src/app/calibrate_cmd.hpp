// SPDX-License-Identifier: MIT
// `pibooster calibrate`: a cost profile from what this machine shows natively (measured rows,
// and rows fitted to real small processes), the other rows carried from a literature profile
// and saying so; `--check`: the model's native timings against real ones, with a verdict.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace pib::app {

extern const char* const kCalibrateHelp;
int cmd_calibrate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace pib::app
