// SPDX-License-Identifier: MIT
// `pibooster policies` lists every row of the policy table; an unknown policy name anywhere
// names the valid ones.
#include <gtest/gtest.h>

#include "policies/policy_table.hpp"
#include "support/cli_call.hpp"

namespace pib::test {
namespace {

TEST(PoliciesCli, ListsEveryPolicyWithItsDescription) {
  const CliResult c = call_cli({"policies"});
  ASSERT_EQ(c.rc, 0) << c.err;
  for (const auto& p : policies::policy_table()) {
    EXPECT_NE(c.out.find(std::string(p.name) + " "), std::string::npos) << p.name;
    EXPECT_NE(c.out.find(std::string(p.description)), std::string::npos) << p.name;
  }
  EXPECT_EQ(call_cli({"help", "policies"}).out, call_cli({"policies", "--help"}).out);
  EXPECT_EQ(call_cli({"policies", "extra"}).rc, 2);
}

TEST(PoliciesCli, AnUnknownPolicyNamesTheValidOnes) {
  const CliResult c = call_cli({"run", "pibooster-fork", "--compare", "baseline,nosuch"});
  EXPECT_EQ(c.rc, 2);
  EXPECT_NE(c.err.find("unknown policy 'nosuch'"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("linux-quicklist"), std::string::npos) << c.err;
}

}  // namespace
}  // namespace pib::test
