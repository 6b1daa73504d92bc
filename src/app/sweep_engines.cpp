// SPDX-License-Identifier: MIT
#include "app/sweep_engines.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "app/sweep_job.hpp"
#include "common/error.hpp"

namespace pib::app {

std::string sh_quote(const std::string& word) {
  std::string q = "'";
  for (const char c : word) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string job_list(const std::string& bin, const std::vector<std::string>& job_dirs) {
  std::string text;
  for (const auto& d : job_dirs) text += sh_quote(bin) + " job " + sh_quote(d) + "\n";
  return text;
}

std::string sbatch_script(const std::string& sweep_name, const std::string& job_list_path,
                          const std::string& log_dir, std::size_t tasks) {
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# Slurm array job of pibooster sweep " << sweep_name << ", written by pibooster sweep:\n"
    << "# task i runs line i of the job list (the jobs not done when it was written). Options\n"
    << "# given to sbatch override these (e.g. sbatch -p PARTITION --time=10 THIS_FILE).\n"
    << "#SBATCH --job-name=pibooster-" << sweep_name << "\n"
    << "#SBATCH --array=1-" << tasks << "\n"
    << "#SBATCH --ntasks=1\n"
    << "#SBATCH --cpus-per-task=1\n"
    << "#SBATCH --output=" << log_dir << "/%A_%a.log\n"
    << "set -euo pipefail\n"
    << ": \"${SLURM_ARRAY_TASK_ID:?not run as a Slurm array task (sbatch THIS_FILE)}\"\n"
    << "line=$(sed -n \"${SLURM_ARRAY_TASK_ID}p\" " << sh_quote(job_list_path) << ")\n"
    << "if [ -z \"$line\" ]; then\n"
    << "  echo \"task $SLURM_ARRAY_TASK_ID: no such line in " << job_list_path << "\" >&2\n"
    << "  exit 2\n"
    << "fi\n"
    << "# The line is a command pibooster wrote with every word quoted.\n"
    << "eval \"$line\"\n";
  return s.str();
}

namespace {

// The child: the job's output and errors go to its log; the exit status says how it went.
[[noreturn]] void child_runs(const std::string& dir) {
  std::ostringstream out;
  int rc = 0;
  try {
    rc = run_job(dir, false, out);
  } catch (const std::exception& e) {
    out << "pibooster job " << dir << ": " << e.what() << "\n";
    rc = 2;
  }
  const int fd = ::open((dir + "/job.log").c_str(),
                        O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd >= 0) {
    const std::string text = out.str();
    [[maybe_unused]] const ssize_t n = ::write(fd, text.data(), text.size());
    ::close(fd);
  }
  ::_exit(rc);
}

std::string last_line(const std::string& path) {
  std::ifstream f(path);
  std::string line, last = "(no log)";
  while (std::getline(f, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

}  // namespace

LocalRun run_local(const std::vector<std::string>& job_dirs, unsigned parallel) {
  const auto t0 = std::chrono::steady_clock::now();
  LocalRun r;
  std::map<pid_t, std::string> running;
  std::size_t next = 0;
  // What the parent wrote but did not flush must not be written again by every child.
  std::fflush(nullptr);
  while (next < job_dirs.size() || !running.empty()) {
    while (next < job_dirs.size() && running.size() < std::max(parallel, 1u)) {
      const pid_t pid = ::fork();
      if (pid < 0) throw InputError("sweep: fork failed while starting a job");
      if (pid == 0) child_runs(job_dirs[next]);
      running.emplace(pid, job_dirs[next++]);
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      throw InputError("sweep: waitpid failed");
    }
    const auto it = running.find(pid);
    if (it == running.end()) continue;  // not one of ours
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      ++r.done;
    } else {
      r.failed.push_back(it->second + ": " + last_line(it->second + "/job.log"));
    }
    running.erase(it);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace pib::app
