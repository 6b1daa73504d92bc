// SPDX-License-Identifier: MIT
// `pibooster capture [-o FILE] -- COMMAND [ARGS...]`: runs a real program under the tracer and
// writes its trace (docs/capture-replay.md).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace pib::app {

extern const char* const kCaptureHelp;
int cmd_capture(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace pib::app
