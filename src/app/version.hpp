// SPDX-License-Identifier: MIT
// The tool version: `git describe --always --dirty --tags` of the source tree at build time
// (cmake/PibVersion.cmake writes it at every build), or the project version with "(not a git
// checkout)" when built outside git. Printed by --version and recorded in every result.
#pragma once

namespace pib::app {

const char* tool_version();

}  // namespace pib::app
