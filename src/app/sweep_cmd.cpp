// SPDX-License-Identifier: MIT
#include "app/sweep_cmd.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "app/args.hpp"
#include "app/safe_write.hpp"
#include "app/sweep_engines.hpp"
#include "app/sweep_job.hpp"
#include "app/sweep_merge.hpp"
#include "app/sweep_spec.hpp"
#include "app/version.hpp"
#include "common/error.hpp"
#include "common/text_file.hpp"

namespace pib::app {

const char* const kSweepHelp =
    R"(usage: pibooster sweep SPEC [--out DIR] [-j N] [--write-only] [--bin PATH] [--no-plot]

Expands the sweep SPEC (a TOML file, docs/sweeps.md: a base scenario and profile, policies,
keys set for every job, and axes of values over scenario keys such as scenario.seed or
workload.params.NAME and unit costs such as cost.hw.iotlb.invalidations.page) into one job per
combination of axis values and policy, each named by the hash of its resolved configuration.
Writes into DIR (default sweeps/NAME, NAME the spec's sweep.name), and nowhere else:
  jobs/HASH/     each job's resolved scenario.toml and profile.toml; its results once run
  sweep.json     the jobs in order with their axis values (what 'pibooster merge' reads)
  spec.toml      a copy of SPEC
  jobs.txt       one command per job not done yet: GNU parallel runs it with
                 parallel -j N < DIR/jobs.txt
  sweep.sbatch   a Slurm array script, one task per line of jobs.txt: sbatch DIR/sweep.sbatch
Then runs the jobs not done yet here, N at a time, each in a process of its own, and merges
the results (pibooster merge DIR). Jobs whose results exist are skipped, so running a sweep
again resumes it, and a sweep extended by more values runs only the new jobs.

options:
  --out DIR        output directory (default sweeps/NAME)
  -j N             jobs at a time here (default: the number of CPUs)
  --write-only     write the jobs, the job list and the Slurm script; run nothing
  --bin PATH       the pibooster the job list and Slurm script call (default: this one)
  --no-plot        merge without drawing the sweep plot
)";

namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

struct SweepArgs {
  std::string spec;
  std::string out;
  unsigned parallel = std::max(1u, std::thread::hardware_concurrency());
  bool write_only = false;
  bool plot = true;
  std::string bin;
};

SweepArgs parse_args(const std::vector<std::string>& args) {
  SweepArgs a;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& f = args[i];
    if (f == "--write-only") {
      a.write_only = true;
    } else if (f == "--no-plot") {
      a.plot = false;
    } else if (f == "--out" || f == "-j" || f == "--bin") {
      if (i + 1 >= args.size()) throw InputError(f + " needs a value (see pibooster sweep --help)");
      const std::string& v = args[++i];
      if (f == "--out") a.out = v;
      if (f == "--bin") a.bin = v;
      if (f == "-j") {
        const uint64_t n = parse_u64("-j", v);
        if (n < 1 || n > 1024) throw InputError("-j expects 1..1024 jobs at a time, got " + v);
        a.parallel = static_cast<unsigned>(n);
      }
    } else if (f.rfind("-", 0) == 0 || !a.spec.empty()) {
      throw InputError("unexpected argument '" + f + "' (see pibooster sweep --help)");
    } else {
      a.spec = f;
    }
  }
  return a;
}

// The binary the job list calls: an absolute path, so the list runs from any directory.
std::string job_binary(const std::string& given) {
  std::error_code ec;
  const fs::path p = given.empty() ? fs::read_symlink("/proc/self/exe", ec) : fs::path(given);
  if (ec) throw InputError("sweep: cannot find this program's path; give --bin PATH");
  return fs::absolute(p).lexically_normal().string();
}

std::string axes_summary(const SweepSpec& spec, std::size_t policies) {
  std::string s;
  for (const auto& a : spec.axes) {
    s += std::to_string(a.values.size()) + " value" + (a.values.size() == 1 ? "" : "s") + " of " +
         a.key + " x ";
  }
  return s + std::to_string(policies) + " polic" + (policies == 1 ? "y" : "ies");
}

}  // namespace

int cmd_sweep(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const SweepArgs a = parse_args(args);
  if (a.spec.empty()) {
    err << kSweepHelp;
    return 2;
  }
  const SweepSpec spec = SweepSpec::load(a.spec);
  const std::size_t total = spec.job_count();  // the limit, before anything is built
  // Every job built and hashed before a file is written: a bad value writes nothing.
  std::vector<SweepJob> jobs;
  jobs.reserve(total);
  std::size_t policies = 0;
  expand(spec, [&](const SweepJob& j, const scenario::Scenario&, const cost::CostProfile&) {
    jobs.push_back(j);
    if (j.values == jobs.front().values) ++policies;
  });
  const std::string dir =
      fs::absolute(a.out.empty() ? "sweeps/" + spec.name : a.out).lexically_normal().string();
  make_real_dir(dir);
  make_real_dir(dir + "/jobs");
  make_real_dir(dir + "/slurm");
  std::vector<std::string> pending;
  expand(spec, [&](const SweepJob& j, const scenario::Scenario& sc, const cost::CostProfile& p) {
    const std::string job_dir = dir + "/jobs/" + j.hash;
    make_real_dir(job_dir);
    if (job_done(job_dir)) return;
    write_file_whole(job_dir + "/scenario.toml", sc.to_toml());
    write_file_whole(job_dir + "/profile.toml", p.to_toml());
    pending.push_back(job_dir);
  });
  ordered_json m;
  m["format"] = "pibooster-sweep-jobs/1";
  m["tool_version"] = tool_version();
  m["name"] = spec.name;
  m["spec"] = spec.origin;
  m["scenario"] = spec.scenario;
  m["profile"] = spec.profile;
  // The profile with the cost overrides every job shares, for titles.
  std::string profile_label = fs::path(spec.profile).stem().string();
  for (const auto& [k, v] : spec.fixed) {
    if (k.starts_with("cost.")) profile_label += ", " + k.substr(5) + "=" + v.text;
  }
  m["profile_label"] = profile_label;
  std::vector<std::string> axes, policy_names;
  for (const auto& ax : spec.axes) axes.push_back(ax.key);
  for (std::size_t i = 0; i < policies; ++i) policy_names.push_back(jobs[i].policy);
  m["axes"] = axes;
  m["policies"] = policy_names;
  ordered_json list = ordered_json::array();
  for (const auto& j : jobs) {
    list.push_back(
        {{"index", j.index}, {"hash", j.hash}, {"policy", j.policy}, {"values", j.values}});
  }
  m["jobs"] = list;
  write_file_whole(dir + "/" + kSweepManifest, m.dump(2) + "\n");
  write_file_whole(dir + "/spec.toml", read_text_file(a.spec, "sweep spec"));
  const std::string bin = job_binary(a.bin);
  write_file_whole(dir + "/jobs.txt", job_list(bin, pending));
  const std::string sbatch = dir + "/sweep.sbatch";
  if (!pending.empty()) {
    write_file_whole(sbatch,
                     sbatch_script(spec.name, dir + "/jobs.txt", dir + "/slurm", pending.size()));
  } else {
    std::error_code ec;
    fs::remove(sbatch, ec);  // nothing left for an array to do
  }
  out << "sweep " << spec.name << ": " << total << " jobs (" << axes_summary(spec, policies)
      << "); " << total - pending.size() << " done already, " << pending.size() << " to run\n";
  if (!pending.empty()) {
    out << "wrote " << dir << "/: jobs/, sweep.json, jobs.txt (GNU parallel: parallel -j "
        << a.parallel << " < " << dir << "/jobs.txt), sweep.sbatch (Slurm: sbatch " << sbatch
        << ")\n";
  }
  if (a.write_only) return 0;
  int rc = 0;
  if (!pending.empty()) {
    const LocalRun r = run_local(pending, a.parallel);
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f", r.seconds);
    out << "ran " << pending.size() << " jobs, " << a.parallel << " at a time, in " << secs
        << " s: " << r.done << " done, " << r.failed.size() << " failed\n";
    for (const auto& f : r.failed) out << "  failed: " << f << "\n";
    rc = r.failed.empty() ? 0 : 1;
  }
  MergeOptions mo;
  mo.plot = a.plot;
  const int merged = merge_sweep(dir, mo, out);
  return rc != 0 ? rc : merged;
}

}  // namespace pib::app
