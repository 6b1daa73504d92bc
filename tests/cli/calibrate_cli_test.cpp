// SPDX-License-Identifier: MIT
// `pibooster calibrate`: only what this machine shows natively is measured or fitted, every
// other row is carried from its source and says so, and --check prints the native validation
// table whose fitted rows close and whose predicted rows carry an honest verdict.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "cost/cost_profile.hpp"
#include "support/cli_call.hpp"

namespace pib::app {
namespace {

using Cli = test::CliResult;

Cli call(const std::vector<std::string>& args) {
  return test::call_cli(args);
}

TEST(CalibrateCli, MeasuresAndFitsOnlyWhatThisMachineShows) {
  const std::string file = (std::filesystem::temp_directory_path() /
                            ("pibooster-calibrated-" + std::to_string(::getpid()) + ".toml"))
                               .string();
  const Cli c = call({"calibrate", "-o", file, "--rounds", "1", "--probe", PIB_PROBE});
  ASSERT_EQ(c.rc, 0) << c.err;
  const cost::CostProfile p = cost::CostProfile::load(file);
  const cost::CostProfile base = cost::find_profile("paper-era-server");
  EXPECT_EQ(p.name(), "calibrated");
  EXPECT_EQ(p.description().find("2.6 GHz"), std::string::npos) << p.description();
  for (const auto& e : sim::kEventTable) {
    if (e.cost != sim::Cost::kWork) continue;
    const cost::UnitCost& u = p.unit(e.event);
    if (u.mark == 'M') {
      EXPECT_NE(u.source.find("pibooster calibrate on "), std::string::npos) << e.name;
      EXPECT_GE(u.ns, 0) << e.name;
    } else {
      // Everything inside Xen and the IOMMU among these: the base profile's, saying so.
      EXPECT_EQ(u.ns, base.ns(e.event)) << e.name;
      EXPECT_EQ(u.source.rfind("not measurable here; from paper-era-server: ", 0), 0u) << e.name;
    }
  }
  for (const char* measured :
       {"hw.mem.zero_page", "hw.mem.copy_page", "guest.kernel_entry", "guest.fork", "guest.exit",
        "guest.exec", "guest.fork.ptes", "guest.zap.ptes", "guest.fault"}) {
    EXPECT_EQ(p.unit(*sim::event_by_name(measured)).mark, 'M') << measured;
  }
  // The simulator's own speed once set this Xen row: carried now, as every Xen row is.
  EXPECT_NE(p.unit(*sim::event_by_name("xen.validate.present")).mark, 'M');
  std::filesystem::remove(file);
}

TEST(CalibrateCli, CheckPrintsTheNativeValidationTableWithAVerdict) {
  const Cli c = call({"calibrate", "--check", "--rounds", "1", "--probe", PIB_PROBE});
  ASSERT_TRUE(c.rc == 0 || c.rc == 1) << c.err;
  for (const char* op : {"fork+exit", "fork+exec", "vfork+exec", "fork, 64 MiB heap",
                         "fork, 256 MiB heap", "mmap+touch+munmap 2 MiB"}) {
    EXPECT_NE(c.out.find("\n" + std::string(op) + " "), std::string::npos) << op << c.out;
  }
  // A fitted operation's model time is its measured time: the fit closes.
  const auto fork = c.out.find("\nfork+exit ");
  EXPECT_NE(c.out.find("+0.0 %    fit (guest.fork, guest.exit)", fork), std::string::npos) << c.out;
  const bool met = c.out.find("-> MET") != std::string::npos;
  EXPECT_EQ(met, c.rc == 0) << c.out;
  EXPECT_TRUE(met || c.out.find("-> NOT MET") != std::string::npos) << c.out;
}

TEST(CalibrateCli, BadFlagsAreNamed) {
  EXPECT_NE(call({"calibrate", "--rounds", "0"}).err.find("--rounds expects 1..100"),
            std::string::npos);
  EXPECT_NE(call({"calibrate", "--profile", "x.toml"}).err.find("--profile goes with --check"),
            std::string::npos);
  EXPECT_NE(call({"calibrate", "--probe", "/nonexistent"}).err.find("no native probe at"),
            std::string::npos);
}

}  // namespace
}  // namespace pib::app
