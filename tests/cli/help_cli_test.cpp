// SPDX-License-Identifier: MIT
// The command line's own surface: every command's help is reachable both ways, unknown names
// and flags are named, the version is printed, and listings are aligned.
#include <gtest/gtest.h>

#include <sstream>

#include "support/cli_call.hpp"
#include "workload/workload.hpp"
#include "xen/domain_builder.hpp"

namespace pib::app {
namespace {

using Cli = test::CliResult;
Cli call(const std::vector<std::string>& args) {
  return test::call_cli(args);
}

const std::vector<std::string> kCommands = {
    "run",       "scenarios", "policies", "profiles",  "fidelity", "snapshot", "calibrate",
    "hv-script", "workload",  "stats",    "headlines", "sweep",    "merge",    "job"};

TEST(HelpCli, HelpOfACommandIsItsDashDashHelp) {
  const Cli general = call({"help"});
  for (const auto& c : kCommands) {
    const Cli a = call({"help", c});
    const Cli b = call({c, "--help"});
    EXPECT_EQ(a.rc, 0) << c;
    EXPECT_EQ(b.rc, 0) << c << ": " << b.err;
    EXPECT_EQ(a.out, b.out) << c;
    EXPECT_NE(a.out, general.out) << c << " has no help of its own";
    EXPECT_NE(a.out.find("usage: pibooster " + c), std::string::npos) << a.out;
  }
}

TEST(HelpCli, HelpOfAnUnknownCommandFailsNamingTheCommands) {
  const Cli c = call({"help", "nosuch"});
  EXPECT_EQ(c.rc, 2);
  EXPECT_NE(c.err.find("no command 'nosuch'"), std::string::npos) << c.err;
  for (const auto& name : kCommands) EXPECT_NE(c.err.find(name), std::string::npos) << name;
}

TEST(HelpCli, VersionIsPrinted) {
  const Cli c = call({"--version"});
  EXPECT_EQ(c.rc, 0);
  ASSERT_EQ(c.out.rfind("pibooster ", 0), 0u) << c.out;
  EXPECT_GT(c.out.size(), std::string("pibooster \n").size()) << c.out;
}

TEST(HelpCli, AnUnknownFlagIsCalledOneNotAMissingValue) {
  for (const std::string cmd : {"calibrate", "fidelity"}) {
    const Cli c = call({cmd, "--frobnicate"});
    EXPECT_EQ(c.rc, 2) << cmd;
    EXPECT_NE(c.err.find("unknown flag '--frobnicate'"), std::string::npos) << c.err;
    EXPECT_EQ(c.err.find("needs a value"), std::string::npos) << c.err;
  }
}

TEST(HelpCli, ScenarioNamesNeverRunIntoTheirDescriptions) {
  const Cli c = call({"scenarios"});
  ASSERT_EQ(c.rc, 0);
  std::istringstream in(c.out);
  std::string line;
  std::size_t column = std::string::npos;
  while (std::getline(in, line)) {
    const auto name_end = line.find(' ');
    ASSERT_NE(name_end, std::string::npos) << line;
    const auto desc = line.find_first_not_of(' ', name_end);
    if (column == std::string::npos) column = desc;
    EXPECT_EQ(desc, column) << line;
    EXPECT_GE(desc, name_end + 2) << line;
  }
}

TEST(HelpCli, HvScriptHelpStatesTheBuildersDefaultDomain) {
  const xen::PvDomainSpec spec;
  EXPECT_NE(call({"help", "hv-script"}).out.find(std::to_string(spec.pages) + " pages"),
            std::string::npos);
}

TEST(HelpCli, EveryWorkloadParameterIsListedWithUnitDefaultAndMeaning) {
  const Cli c = call({"workload", "--list"});
  ASSERT_EQ(c.rc, 0) << c.err;
  for (const auto& w : workload::workload_catalog()) {
    for (const auto& k : w.keys) {
      const workload::ParamDoc* d = workload::param_doc(k);
      ASSERT_NE(d, nullptr) << w.name << " parameter " << k << " is undocumented";
      EXPECT_FALSE(d->unit.empty() || d->fallback.empty() || d->meaning.empty()) << k;
      EXPECT_NE(c.out.find("default " + std::string(d->fallback) + ": " + std::string(d->meaning)),
                std::string::npos)
          << k;
    }
  }
}

}  // namespace
}  // namespace pib::app
