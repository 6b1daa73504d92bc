// SPDX-License-Identifier: MIT
// `pibooster calibrate`: measures on this machine what can be measured from user space and
// writes a cost profile; the other rows are taken from a literature profile and say so.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace pib::app {

extern const char* const kCalibrateHelp;
int cmd_calibrate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace pib::app
