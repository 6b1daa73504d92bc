// SPDX-License-Identifier: MIT
// `pibooster replay TRACE`: a captured program (or a snapshot) replayed on the model under each
// policy, with the footprint checks and the time per kind of event (docs/capture-replay.md).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace pib::app {

std::string replay_help();
int cmd_replay(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace pib::app
