// SPDX-License-Identifier: MIT
// `pibooster sweep SPEC`: a sweep's jobs written to an output directory (each job's resolved
// configuration in jobs/HASH/, the job list for GNU parallel, the Slurm array script, the
// manifest `merge` reads), then run here N at a time and merged, unless --write-only.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace pib::app {

extern const char* const kSweepHelp;

int cmd_sweep(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace pib::app
