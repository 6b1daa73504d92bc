// SPDX-License-Identifier: MIT
// `pibooster headlines RESULTS.json...`: one table across runs — every headline figure of
// PiBooster against the baseline, model (with its 90 % interval) beside the paper's figure.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace pib::app {

extern const char* const kHeadlinesHelp;
int cmd_headlines(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace pib::app
