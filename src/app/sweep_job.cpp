// SPDX-License-Identifier: MIT
#include "app/sweep_job.hpp"

#include <filesystem>
#include <functional>
#include <sstream>

#include "app/safe_write.hpp"
#include "app/version.hpp"
#include "common/error.hpp"
#include "cost/cost_profile.hpp"
#include "report/report.hpp"
#include "scenario/runner.hpp"

namespace pib::app {

const char* const kJobHelp = R"(usage: pibooster job DIR [--force]

Runs one job of a sweep (docs/sweeps.md): DIR is DIR/jobs/HASH of a sweep's output, holding the
resolved scenario.toml (one policy) and profile.toml that 'pibooster sweep' wrote there, HASH
being their configuration hash. Writes results.json, results.csv and config.csv into DIR,
results.json last, so a job that was stopped half-way counts as not run. Does nothing when
results.json exists already (resume), unless --force. The job list (jobs.txt) for GNU parallel
and the Slurm array script run this command, one job each.
)";

namespace {

namespace fs = std::filesystem;

std::string rendered(const std::function<void(std::ostream&)>& fn) {
  std::ostringstream o;
  fn(o);
  return o.str();
}

}  // namespace

bool job_done(const std::string& dir) {
  return fs::is_regular_file(fs::symlink_status(dir + "/" + kJobDoneFile));
}

int run_job(const std::string& dir, bool force, std::ostream& out) {
  const fs::path path = fs::path(dir).lexically_normal();
  const std::string name = (path.has_filename() ? path : path.parent_path()).filename().string();
  if (fs::is_symlink(fs::symlink_status(path))) {
    throw InputError("job directory '" + dir + "' is a symlink; a job writes only into its own");
  }
  if (job_done(dir) && !force) {
    out << "job " << name << ": done already (" << kJobDoneFile << " exists)\n";
    return 0;
  }
  const scenario::Scenario sc = scenario::Scenario::load(dir + "/scenario.toml");
  const cost::CostProfile profile = cost::CostProfile::load(dir + "/profile.toml");
  const std::string hash = report::config_hash(sc, profile);
  if (hash != name) {
    throw InputError("job directory '" + dir + "' holds the configuration " + hash +
                     ", not the one it is named by (were its files edited?)");
  }
  const scenario::RunOutput run = scenario::run_scenario(sc, profile, {});
  const report::Uncertainty u = report::analyse(run);
  report::Options options;
  options.uncertainty = &u;
  options.tool_version = tool_version();
  // results.json last: it marks the job done.
  write_file_whole(dir + "/results.csv",
                   rendered([&](std::ostream& f) { report::write_csv(f, run, options); }));
  write_file_whole(dir + "/config.csv",
                   rendered([&](std::ostream& f) { report::write_config_csv(f, run, options); }));
  write_file_whole(dir + "/" + kJobDoneFile,
                   rendered([&](std::ostream& f) { report::write_json(f, run, options); }));
  bool audit_clean = true;
  for (const auto& r : run.results) audit_clean = audit_clean && r.audit.empty();
  out << "job " << name << ": " << sc.name << ", " << run.results.front().policy << ", "
      << run.results.front().latency.mean / 1000.0 << " us per " << run.results.front().operation
      << (audit_clean ? "" : " (AUDIT FAILED: see results.json)") << "\n";
  return audit_clean ? 0 : 1;
}

int cmd_job(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  bool force = false;
  std::string dir;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--force") {
      force = true;
    } else if (args[i].rfind("--", 0) == 0 || !dir.empty()) {
      throw InputError("unexpected argument '" + args[i] + "' (see pibooster job --help)");
    } else {
      dir = args[i];
    }
  }
  if (dir.empty()) {
    err << kJobHelp;
    return 2;
  }
  return run_job(dir, force, out);
}

}  // namespace pib::app
