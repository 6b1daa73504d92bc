// SPDX-License-Identifier: MIT
// `pibooster sweep`, `job` and `merge`: a sweep over the IOTLB page-invalidation cost x two
// policies runs through GNU parallel and merges into one CSV whose rows move as the model says;
// resume skips finished jobs; bad specs are named by file, line and key; nothing is written
// through a symlink or past the job limit.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "support/cli_call.hpp"

namespace pib::app {
namespace {

namespace fs = std::filesystem;
using Cli = test::CliResult;

Cli call(const std::vector<std::string>& args) {
  return test::call_cli(args);
}

// A fresh folder of this test process's own.
std::string temp_dir(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("pibooster-sweep-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

std::string write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

std::string read(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Two values of the cost that PiBooster's cache removes from fork+exit, two policies, on the
// smallest fork scenario: four jobs of a few milliseconds each.
constexpr const char* kIotlbSpec = R"([sweep]
format = 1
name = "iotlb"
scenario = "pibooster-fork"
policies = ["baseline", "pibooster"]

[set]
"scenario.iterations" = 2
"scenario.warmup" = 1

[[axis]]
key = "cost.hw.iotlb.invalidations.page"
values = [300, 3000]
)";

std::vector<std::map<std::string, std::string>> csv_rows(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> head;
  std::stringstream hs(line);
  for (std::string f; std::getline(hs, f, ',');) head.push_back(f);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    std::map<std::string, std::string> row;
    std::stringstream ls(line);
    std::size_t i = 0;
    for (std::string f; i < head.size(); ++i) {
      std::getline(ls, f, ',');
      row[head[i]] = f;
      f.clear();
    }
    rows.push_back(row);
  }
  return rows;
}

TEST(SweepCli, IotlbCostTimesTwoPoliciesRunsThroughGnuParallelAndMerges) {
  ASSERT_EQ(std::system("command -v parallel >/dev/null 2>&1"), 0)
      << "GNU parallel is not installed (scripts/install-deps.sh installs it)";
  const std::string dir = temp_dir("parallel");
  const std::string spec = write(dir + "/iotlb.toml", kIotlbSpec);
  const Cli w = call({"sweep", spec, "--out", dir + "/out", "--write-only", "--bin", PIB_BINARY});
  ASSERT_EQ(w.rc, 0) << w.err;
  EXPECT_NE(w.out.find("4 jobs (2 values of cost.hw.iotlb.invalidations.page x 2 policies); 0 "
                       "done already, 4 to run"),
            std::string::npos)
      << w.out;
  const std::string cmd =
      "parallel --will-cite --halt now,fail=1 -j 2 < '" + dir + "/out/jobs.txt' > /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const Cli m = call({"merge", dir + "/out", "--no-plot"});
  ASSERT_EQ(m.rc, 0) << m.out << m.err;
  const auto rows = csv_rows(read(dir + "/out/merged.csv"));
  ASSERT_EQ(rows.size(), 4u);
  // The sweep's order: the axis, then the policy.
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"300", "baseline"}, {"300", "pibooster"}, {"3000", "baseline"}, {"3000", "pibooster"}};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].at("cost.hw.iotlb.invalidations.page"), expected[i].first);
    EXPECT_EQ(rows[i].at("policy"), expected[i].second);
    EXPECT_EQ(rows[i].at("operation"), "fork+exit");
  }
  const auto ns = [&](std::size_t i) { return std::stod(rows[i].at("latency_mean_ns")); };
  // Baseline flushes the IOTLB for every page-table page it frees: its time grows with the
  // cost, by (3000 - 300) ns per invalidation it makes.
  const double inv = std::stod(rows[0].at("iotlb_invalidations_per_op"));
  ASSERT_GT(inv, 0);
  EXPECT_GT(ns(2), ns(0));
  EXPECT_NEAR(ns(2) - ns(0), inv * 2700, 1e-6 * ns(2));
  // PiBooster's cache keeps page-table pages mapped for DMA: no invalidations, no change.
  EXPECT_EQ(std::stod(rows[1].at("iotlb_invalidations_per_op")), 0.0);
  EXPECT_EQ(ns(1), ns(3));
  EXPECT_LT(std::stod(rows[3].at("latency_change_pct")),
            std::stod(rows[1].at("latency_change_pct")));
  // The same jobs run here (-j 2) give the same table: every engine runs the same command.
  const Cli local = call({"sweep", spec, "--out", dir + "/local", "-j", "2", "--no-plot"});
  ASSERT_EQ(local.rc, 0) << local.out << local.err;
  EXPECT_EQ(read(dir + "/local/merged.csv"), read(dir + "/out/merged.csv"));
  fs::remove_all(dir);
}

TEST(SweepCli, ResumeSkipsFinishedJobsAndRunsOnlyNewOnes) {
  const std::string dir = temp_dir("resume");
  const std::string spec = write(dir + "/s.toml", kIotlbSpec);
  const Cli first = call({"sweep", spec, "--out", dir + "/out", "-j", "1", "--no-plot"});
  ASSERT_EQ(first.rc, 0) << first.out << first.err;
  // Mark one job's results, then run again: none is run, the marked results stay.
  const std::string job = fs::directory_iterator(dir + "/out/jobs")->path().string();
  const auto stamp = fs::last_write_time(job + "/results.json");
  const Cli again = call({"sweep", spec, "--out", dir + "/out", "-j", "1", "--no-plot"});
  ASSERT_EQ(again.rc, 0) << again.out;
  EXPECT_NE(again.out.find("4 done already, 0 to run"), std::string::npos) << again.out;
  EXPECT_EQ(fs::last_write_time(job + "/results.json"), stamp);
  EXPECT_EQ(read(dir + "/out/jobs.txt"), "");
  EXPECT_FALSE(fs::exists(dir + "/out/sweep.sbatch"));
  // A third value: only its two jobs are new, and merge has six rows.
  std::string extended = kIotlbSpec;
  extended.replace(extended.find("[300, 3000]"), 11, "[300, 1000, 3000]");
  write(spec, extended);
  const Cli more = call({"sweep", spec, "--out", dir + "/out", "--write-only"});
  ASSERT_EQ(more.rc, 0) << more.err;
  EXPECT_NE(more.out.find("6 jobs"), std::string::npos);
  EXPECT_NE(more.out.find("4 done already, 2 to run"), std::string::npos) << more.out;
  const std::string list = read(dir + "/out/jobs.txt");
  EXPECT_EQ(std::count(list.begin(), list.end(), '\n'), 2);
  EXPECT_NE(read(dir + "/out/sweep.sbatch").find("#SBATCH --array=1-2\n"), std::string::npos);
  // merge before they ran: four rows, and it says which jobs are missing.
  const Cli partial = call({"merge", dir + "/out", "--no-plot"});
  EXPECT_EQ(partial.rc, 1);
  EXPECT_NE(partial.out.find("2 job(s) have no results yet"), std::string::npos) << partial.out;
  EXPECT_EQ(csv_rows(read(dir + "/out/merged.csv")).size(), 4u);
  // A job run by hand, twice: the second time it does nothing.
  const std::string pending =
      list.substr(list.find(" job '") + 6, list.find("'\n") - list.find(" job '") - 6);
  EXPECT_EQ(call({"job", pending}).rc, 0);
  EXPECT_NE(call({"job", pending}).out.find("done already"), std::string::npos);
  fs::remove_all(dir);
}

TEST(SweepCli, BadSpecsNameFileLineAndKey) {
  const std::string dir = temp_dir("bad");
  const std::string head =
      "[sweep]\nformat = 1\nname = \"bad\"\nscenario = \"pibooster-fork\"\n";  // lines 1-4
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[sweep]\nformat = 1\nname = \"x\"\nscenaro = \"lmbench-fork\"\n",
       "s.toml:4: unknown key sweep.scenaro (valid: format, name, scenario, profile, policies, "
       "max_jobs)"},
      {"[sweep]\nformat = 2\n", "s.toml:2: sweep.format must be 1"},
      {"[sweep]\nname = \"x\"\n", "missing sweep.format"},
      {head + "[[axis]]\nkey = \"cost.hw.iotlb.nope\"\nvalues = [1]\n",
       "s.toml:7: cost.hw.iotlb.nope: --set: 'hw.iotlb.nope' is not a work event"},
      {head + "[[axis]]\nkey = \"cost.xen.entries\"\nvalues = [1, -5]\n",
       "s.toml:7: cost.xen.entries: --set xen.entries: '-5' is not a number of nanoseconds"},
      {head + "[[axis]]\nkey = \"scenario.iterations\"\nvalues = [2, 0]\n",
       "s.toml:7: scenario.iterations must be an integer in 1..1000000"},
      {head + "[[axis]]\nkey = \"machine.vcpu\"\nvalues = [1]\n",
       "s.toml:7: unknown key machine.vcpu (valid: "},
      {head + "[[axis]]\nkey = \"workload.params.parent_heap_page\"\nvalues = [16]\n",
       "s.toml:7: workload lat_proc.fork has no parameter 'parent_heap_page'"},
      {head + "[[axis]]\nkey = \"nosection.x\"\nvalues = [1]\n",
       "s.toml:7: unknown scenario key 'nosection.x'"},
      {head + "[set]\n\"scenario.seed\" = 1\n[[axis]]\nkey = \"scenario.seed\"\nvalues = [1]\n",
       "s.toml:8: scenario.seed is already set at "},
      {head + "[[axis]]\nkey = \"scenario.seed\"\nvalues = [1, 1]\n",
       "have the same configuration (is a value listed twice?)"},
      {head + "policies = [\"baseline\", \"kvm\"]\n", "s.toml:5: sweep.policies: unknown policy"},
      {head + "[[axis]]\nkey = \"scenario.seed\"\nvalues = [1, {a = 1}]\n",
       "s.toml:7: axis scenario.seed values must be a string, a number or a boolean"},
      {head + "[[axis]]\nkey = \"scenario.seed\"\nvalues = [1,\n",
       "s.toml:7: Error while parsing array"},
      {"[sweep]\nformat = 1\nname = \"../up\"\nscenario = \"pibooster-fork\"\n",
       "s.toml:3: sweep.name '../up' must be"},
  };
  for (const auto& [text, message] : cases) {
    const std::string spec = write(dir + "/s.toml", text);
    const Cli c = call({"sweep", spec, "--out", dir + "/out", "--write-only"});
    EXPECT_EQ(c.rc, 2) << text;
    EXPECT_NE(c.err.find(message), std::string::npos) << "expected: " << message << "\n" << c.err;
    // A bad spec writes nothing.
    EXPECT_FALSE(fs::exists(dir + "/out")) << text;
  }
  fs::remove_all(dir);
}

TEST(SweepCli, TheJobLimitIsCheckedBeforeAnyJobIsBuilt) {
  const std::string dir = temp_dir("limit");
  std::string values = "[";
  for (int i = 1; i <= 1000; ++i) values += std::to_string(i) + (i < 1000 ? ", " : "]");
  std::string text = "[sweep]\nformat = 1\nname = \"big\"\nscenario = \"pibooster-fork\"\n";
  for (const char* key : {"scenario.seed", "scenario.iterations", "scenario.warmup"}) {
    text += "[[axis]]\nkey = \"" + std::string(key) + "\"\nvalues = " + values + "\n";
  }
  const std::string spec = write(dir + "/big.toml", text);
  const auto t0 = std::chrono::steady_clock::now();
  const Cli c = call({"sweep", spec, "--out", dir + "/out", "--write-only"});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(c.rc, 2);
  EXPECT_NE(c.err.find("big.toml: the sweep has more than 10000 jobs"), std::string::npos) << c.err;
  EXPECT_FALSE(fs::exists(dir + "/out"));
  // A spec's own lower limit.
  write(spec, std::string(kIotlbSpec).replace(0, 8, "[sweep]\nmax_jobs = 3\n"));
  const Cli small = call({"sweep", spec, "--out", dir + "/out", "--write-only"});
  EXPECT_EQ(small.rc, 2);
  EXPECT_NE(small.err.find("more than 3 jobs"), std::string::npos) << small.err;
  fs::remove_all(dir);
}

TEST(SweepCli, WritesNothingThroughASymlink) {
  const std::string dir = temp_dir("symlink");
  const std::string spec = write(dir + "/s.toml", kIotlbSpec);
  fs::create_directories(dir + "/elsewhere");
  fs::create_directories(dir + "/out");
  fs::create_directory_symlink(dir + "/elsewhere", dir + "/out/jobs");
  const Cli c = call({"sweep", spec, "--out", dir + "/out", "--write-only"});
  EXPECT_EQ(c.rc, 2);
  EXPECT_NE(c.err.find("out/jobs' is a symlink; refusing to write there"), std::string::npos)
      << c.err;
  fs::remove(dir + "/out/jobs");
  // A link planted at a file's name is not written through either.
  fs::create_symlink(dir + "/elsewhere/victim", dir + "/out/jobs.txt");
  const Cli f = call({"sweep", spec, "--out", dir + "/out", "--write-only"});
  EXPECT_EQ(f.rc, 0) << f.err;  // replaced by a file (renamed over the link)
  EXPECT_FALSE(fs::is_symlink(fs::symlink_status(dir + "/out/jobs.txt")));
  EXPECT_TRUE(fs::is_empty(dir + "/elsewhere"));
  fs::remove_all(dir);
}

TEST(SweepCli, AJobRefusesFilesThatAreNotItsConfiguration) {
  const std::string dir = temp_dir("tamper");
  const std::string spec = write(dir + "/s.toml", kIotlbSpec);
  ASSERT_EQ(call({"sweep", spec, "--out", dir + "/out", "--write-only"}).rc, 0);
  const std::string job = fs::directory_iterator(dir + "/out/jobs")->path().string();
  std::string profile = read(job + "/profile.toml");
  profile.replace(profile.find("description = \""), 15, "description = \"edited ");
  write(job + "/profile.toml", profile);
  const Cli c = call({"job", job});
  EXPECT_EQ(c.rc, 2);
  EXPECT_NE(c.err.find("not the one it is named by"), std::string::npos) << c.err;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace pib::app
