// SPDX-License-Identifier: MIT
// `pibooster run`, `pibooster scenarios`, `pibooster profiles`.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace pib::app {

std::string run_help();
extern const char* const kScenariosHelp;
extern const char* const kProfilesHelp;
int cmd_run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int cmd_scenarios(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int cmd_profiles(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace pib::app
