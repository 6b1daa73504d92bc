// SPDX-License-Identifier: MIT
// `pibooster design-space`: one table per scenario, baseline as the reference, every policy a
// row; bad arguments are errors that say what is wrong.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/cli_call.hpp"

namespace pib::test {
namespace {

TEST(DesignSpaceCli, TabulatesEveryPolicyAgainstBaselineAndWritesTheFile) {
  // A name no other test (or a parallel run of this one) uses.
  const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                     ("pib-design-space-" + std::to_string(::getpid()) + ".md");
  const CliResult c =
      call_cli({"design-space", "--scenarios", "pibooster-fork,fork-heap64", "--policies",
                "baseline,pibooster,pibooster-plus", "--out", file.string()});
  ASSERT_EQ(c.rc, 0) << c.err;
  EXPECT_NE(c.out.find("### pibooster-fork"), std::string::npos);
  EXPECT_NE(c.out.find("### fork-heap64"), std::string::npos);
  EXPECT_NE(c.out.find("| baseline |"), std::string::npos);
  EXPECT_NE(c.out.find("| pibooster-plus |"), std::string::npos);
  std::ifstream in(file);
  std::stringstream body;
  body << in.rdbuf();
  EXPECT_NE(body.str().find("| pibooster-plus |"), std::string::npos);
  std::filesystem::remove(file);
}

TEST(DesignSpaceCli, BadArgumentsAreNamed) {
  EXPECT_EQ(call_cli({"design-space", "--bogus"}).rc, 2);
  const CliResult ref = call_cli({"design-space", "--policies", "pibooster,baseline"});
  EXPECT_NE(ref.rc, 0);
  EXPECT_NE(ref.err.find("must be baseline"), std::string::npos) << ref.err;
  const CliResult unknown = call_cli({"design-space", "--policies", "baseline,nosuch"});
  EXPECT_NE(unknown.err.find("unknown policy 'nosuch'"), std::string::npos) << unknown.err;
  const CliResult empty = call_cli({"design-space", "--scenarios", "a,,b"});
  EXPECT_NE(empty.err.find("empty name"), std::string::npos) << empty.err;
  EXPECT_NE(call_cli({"design-space", "--profile"}).err.find("needs a value"), std::string::npos);
}

}  // namespace
}  // namespace pib::test
