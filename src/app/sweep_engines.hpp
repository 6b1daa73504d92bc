// SPDX-License-Identifier: MIT
// The engines a sweep's jobs run on, each job the same command (`pibooster job DIR`): this
// process with N jobs at a time, GNU parallel reading the job list, or a Slurm array whose task
// i runs line i of the list. The list holds only the jobs not done yet, so each engine resumes.
#pragma once

#include <string>
#include <vector>

namespace pib::app {

// A word for sh: quoted so that spaces and quotes in paths stay one word.
std::string sh_quote(const std::string& word);

// jobs.txt: one shell command per pending job, `'BIN' job 'JOBDIR'`.
std::string job_list(const std::string& bin, const std::vector<std::string>& job_dirs);

// An sbatch script running the job list as an array, one job per task; logs to `log_dir`.
std::string sbatch_script(const std::string& sweep_name, const std::string& job_list_path,
                          const std::string& log_dir, std::size_t tasks);

struct LocalRun {
  std::size_t done = 0;
  std::vector<std::string> failed;  // "JOBDIR: last line of its log"
  double seconds = 0;
};
// Runs the jobs, `parallel` at a time, each in a child process of its own (as independent as
// on the other engines), its output in JOBDIR/job.log.
LocalRun run_local(const std::vector<std::string>& job_dirs, unsigned parallel);

}  // namespace pib::app
