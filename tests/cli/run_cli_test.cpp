// SPDX-License-Identifier: MIT
// `pibooster run`, `scenarios`, `profiles`: outputs land where promised; bad input is named.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/cli_call.hpp"

namespace pib::app {
namespace {

using Cli = test::CliResult;
Cli call(const std::vector<std::string>& args) {
  return test::call_cli(args);
}

// A new folder of its own (mkdtemp): tests of two builds or two ctest runs at once never share
// one, as they did under a fixed /tmp/pibooster-test-NAME.
std::string temp_dir(const std::string& name) {
  std::string path =
      (std::filesystem::temp_directory_path() / ("pibooster-test-" + name + "-XXXXXX")).string();
  if (::mkdtemp(path.data()) == nullptr) ADD_FAILURE() << "mkdtemp " << path;
  return path;
}

TEST(RunCli, WritesResultsResolvedScenarioAndProfile) {
  const std::string dir = temp_dir("run");
  const Cli c = call({"run", "lmbench-fork", "--iterations", "3", "--out", dir, "--no-plot",
                      "--set", "xen.entries=200", "--verbose"});
  ASSERT_EQ(c.rc, 0) << c.err;
  EXPECT_NE(c.out.find("native/baseline"), std::string::npos) << c.out;
  for (const char* f : {"results.json", "results.csv", "config.csv", "table.txt", "scenario.toml",
                        "profile.toml"}) {
    EXPECT_TRUE(std::filesystem::exists(dir + "/latest/" + f)) << f;
  }
  std::ifstream prof(dir + "/latest/profile.toml");
  std::stringstream ss;
  ss << prof.rdbuf();
  EXPECT_NE(ss.str().find("\"xen.entries\" = { ns = 200"), std::string::npos);
  // The written scenario and profile reproduce the run.
  const Cli again =
      call({"run", dir + "/latest/scenario.toml", "--profile", dir + "/latest/profile.toml",
            "--out", dir + "/again", "--no-plot", "--format", "json"});
  ASSERT_EQ(again.rc, 0) << again.err;
  std::ifstream first(dir + "/latest/results.json");
  std::stringstream fs;
  fs << first.rdbuf();
  const auto strip_origins = [](std::string s) {
    std::string out;
    std::istringstream in(s);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("\"origin\"") == std::string::npos) out += line + "\n";
    }
    return out;
  };
  EXPECT_EQ(strip_origins(fs.str()), strip_origins(again.out));
  std::filesystem::remove_all(dir);
}

TEST(RunCli, JsonHasLatencyUnderTheOperationAndCountersByName) {
  const Cli c = call({"run", "lmbench-fork", "--iterations", "2", "--format", "json", "--out",
                      temp_dir("json"), "--no-plot"});
  ASSERT_EQ(c.rc, 0) << c.err;
  EXPECT_NE(c.out.find("\"latency\": {\n        \"fork+exit\""), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("\"xen.multicall.entries\""), std::string::npos);
}

TEST(RunCli, ListsScenariosAndProfiles) {
  EXPECT_NE(call({"scenarios"}).out.find("unixbench-shell8"), std::string::npos);
  EXPECT_NE(call({"profiles"}).out.find("paper-era-server"), std::string::npos);
  EXPECT_NE(call({"scenarios", "--show", "fork-heap64"}).out.find("parent_heap_pages"),
            std::string::npos);
}

TEST(RunCli, BadInputIsNamed) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"run", "no-such-scenario"}, "no scenario 'no-such-scenario'"},
      {{"run", "lmbench-fork", "--profile", "laptop"}, "no cost profile 'laptop'"},
      {{"run", "lmbench-fork", "--format", "xml"}, "--format must be table, json or csv"},
      {{"run", "lmbench-fork", "--set", "xen.pin=3"}, "'xen.pin' is not a work event"},
      {{"run", "lmbench-fork", "--policy", "kvm"}, "unknown policy 'kvm'"},
      {{"run", "lmbench-fork", "--iterations", "0"},
       "--iterations: scenario.iterations must be an integer in 1..1000000"},
      {{"run", "lmbench-fork", "--iterations", "x"},
       "--iterations: scenario.iterations must be an integer in 1..1000000"},
      {{"fidelity", "--iterations", "x"}, "--iterations expects a non-negative integer"},
      {{"fidelity", "--trace", "fork_exec"}, "--trace: unknown mode 'fork_exec'"},
      {{"run", "/nonexistent/s.toml"}, "cannot open scenario '/nonexistent/s.toml'"},
      {{"run", "lmbench-fork", "--out", "/proc/forbidden", "--iterations", "1"}, "cannot create"},
  };
  for (const auto& [args, message] : cases) {
    const Cli c = call(args);
    EXPECT_EQ(c.rc, 2) << args.back();
    EXPECT_NE(c.err.find(message), std::string::npos) << c.err;
  }
}

}  // namespace
}  // namespace pib::app

namespace pib::app {
namespace {

// The default output is a screenful with the headline's interval; the interval holds the
// nominal change, the tornado's largest bar is the IOTLB invalidation row (issue 17), and
// `headlines` tabulates the same figure from the written JSON.
TEST(RunCli, HeadlineCarriesAnIntervalAndTheRowsThatMoveIt) {
  const std::string dir = temp_dir("headline");
  const Cli c = call({"run", "pibooster-fork", "--iterations", "3", "--out", dir, "--no-plot"});
  ASSERT_EQ(c.rc, 0) << c.err;
  EXPECT_LE(std::count(c.out.begin(), c.out.end(), '\n'), 40) << c.out;
  EXPECT_NE(c.out.find("fork+exit latency"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("(90 %: "), std::string::npos) << c.out;
  const auto tornado = c.out.find("cost rows that move the headline");
  ASSERT_NE(tornado, std::string::npos);
  EXPECT_EQ(c.out.find("hw.iotlb.invalidations.page", tornado), c.out.find("\n", tornado) + 3)
      << c.out;
  const Cli h = call({"headlines", dir + "/latest/results.json"});
  ASSERT_EQ(h.rc, 0) << h.err;
  const auto lat = c.out.find("fork+exit latency");
  const std::string model = c.out.substr(lat + 40, c.out.find('%', lat + 40) - lat - 40 + 1);
  EXPECT_NE(h.out.find(model), std::string::npos) << model << "\n" << h.out;
  std::ifstream json(dir + "/latest/results.json");
  std::stringstream js;
  js << json.rdbuf();
  EXPECT_NE(js.str().find("\"overrides\": []"), std::string::npos);
  EXPECT_NE(js.str().find("\"iommu\": \"sync\""), std::string::npos);  // the resolved scenario
  EXPECT_NE(js.str().find("\"tool_version\""), std::string::npos);
}

}  // namespace
}  // namespace pib::app
