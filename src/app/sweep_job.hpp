// SPDX-License-Identifier: MIT
// One job of a sweep, run by whichever engine (this process's -j N, GNU parallel, a Slurm array
// task): its directory, named by its configuration hash, holds the resolved scenario.toml and
// profile.toml; the results land beside them, results.json last and renamed into place, so a
// job is done exactly when its results.json exists.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace pib::app {

extern const char* const kJobHelp;

// What marks a finished job.
inline constexpr const char* kJobDoneFile = "results.json";

bool job_done(const std::string& dir);
// Runs the job in `dir` (unless done and not `force`): 0 done, 1 the run's audit failed;
// InputError when the directory is not a job's.
int run_job(const std::string& dir, bool force, std::ostream& out);

int cmd_job(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace pib::app
