// SPDX-License-Identifier: MIT
// Does the hypercall-script front end run scripts, check expectations, and reject malformed
// input with the file and line? Do the shipped examples still meet their expectations?
#include "app/hv_script.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/cli.hpp"
#include "common/error.hpp"

namespace pib::app {
namespace {

HvScriptResult run_text(const std::string& text, std::string* output = nullptr) {
  std::istringstream in(text);
  std::ostringstream out;
  const auto r = run_hv_script(in, "t.hvs", out);
  if (output != nullptr) *output = out.str();
  return r;
}

std::string error_of(const std::string& text) {
  try {
    run_text(text);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(HvScript, MetAndUnmetExpectationsAreCounted) {
  std::string out;
  const auto r = run_text(
      "frame t\n"
      "pin l1 t -> -EINVAL\n"
      "remap t ro -> ok\n"
      "pin l1 t -> -EINVAL   # wrong on purpose\n",
      &out);
  EXPECT_EQ(r.lines_run, 3);
  EXPECT_EQ(r.failed_expectations, 1);
  EXPECT_NE(out.find("** EXPECTED -EINVAL **"), std::string::npos);
  EXPECT_NE(out.find("xen.pin"), std::string::npos);
}

TEST(HvScript, MalformedLinesNameFileAndLine) {
  EXPECT_EQ(error_of("frame a\nbogus a\n").rfind("t.hvs:2: unknown command 'bogus'", 0), 0u);
  EXPECT_NE(error_of("pin l1 nosuch\n").find("t.hvs:1: unknown frame 'nosuch'"), std::string::npos);
  EXPECT_NE(error_of("frame a\nmmu_update a[512] = 0\n").find("t.hvs:2: entry index 512"),
            std::string::npos);
  EXPECT_NE(error_of("frame a\nmmu_update a[0] = pte(a, P XX)\n").find("unknown PTE flag 'XX'"),
            std::string::npos);
  EXPECT_NE(error_of("domain pages=64 colour=blue\n").find("unknown domain key 'colour'"),
            std::string::npos);
  EXPECT_NE(error_of("frame a\ndomain pages=64\n").find("must come before"), std::string::npos);
  EXPECT_NE(error_of("multicall\n").find("not closed"), std::string::npos);
  EXPECT_NE(error_of("frame a\nwrite a[0] = 12z\n").find("not a number: '12z'"), std::string::npos);
}

// A line armed with 'at' runs where the hypervisor announces its step, and only there; one
// that never runs is an unmet expectation; lines that would run on the announcing vCPU, or
// that cannot run at a step, are refused.
TEST(HvScript, ArmedLinesRunBetweenTheStepsOfAHypercall) {
  std::string out;
  auto r = run_text(
      "domain vcpus=2 generation=modern\n"
      "frame t\n"
      "remap t ro\n"
      "at between-ops t: vcpu 1 remap t rw -> -EBUSY\n"  // pinned between the two ops
      "batch pin l1 t ; unpin t -> ok done=2\n"
      "remap t rw -> ok\n",
      &out);
  EXPECT_EQ(r.failed_expectations, 0) << out;
  EXPECT_LT(out.find("at between-ops"), out.find("remap t rw")) << out;
  r = run_text("frame t\nremap t ro\nat validate-end t: dma read t[0]\n", &out);
  EXPECT_EQ(r.failed_expectations, 1) << "never reached";
  EXPECT_NE(out.find("NEVER REACHED"), std::string::npos) << out;
  EXPECT_NE(error_of("frame t\nat validate-end t: pin l1 t\n").find("on another vCPU"),
            std::string::npos);
  EXPECT_NE(error_of("frame t\nat teatime t: dma read t[0]\n").find("unknown step"),
            std::string::npos);
  EXPECT_NE(error_of("frame t\nat type-change: at type-change: audit\n").find("cannot run"),
            std::string::npos);
  EXPECT_NE(error_of("frame t\nat type-change t\n").find("usage: at STEP"), std::string::npos);
}

TEST(HvScript, ClockTimersSecondDomainAndBatchesAreChecked) {
  EXPECT_NE(error_of("timer +100\n").find("no clock"), std::string::npos);
  EXPECT_NE(error_of("domain clock=0\n").find("out of range"), std::string::npos);
  EXPECT_NE(error_of("domain clock=40\ntimer 100\n").find("usage: timer"), std::string::npos);
  EXPECT_NE(error_of("other frame x\n").find("no second domain"), std::string::npos);
  EXPECT_NE(error_of("frame t\nmmu_update t[0] = 0 foreigndom=70001\n").find("16 bits"),
            std::string::npos)
      << "a domain id is not wrapped to 16 bits";
  EXPECT_NE(error_of("frame t\npin l1 t pt_owner=0\n").find("page-table owner of an mmu_update"),
            std::string::npos);
  EXPECT_NE(error_of("frame t\nbatch pin l1 t pt_owner=0\n").find("page-table owner"),
            std::string::npos);
  EXPECT_NE(error_of("frame t\nmmu_update t[0] = 0 pt_owner=0 pt_owner=0\n").find("given twice"),
            std::string::npos);
  EXPECT_NE(error_of("frame t\nmmu_update t[0] = 0 pt_owner=70001\n").find("16 bits"),
            std::string::npos);
  EXPECT_NE(error_of("frame t\npin l1 t junk\n").find("one too many"), std::string::npos);
  EXPECT_NE(error_of("frame t\nmmuext 6 0 0 0\n").find("one too many"), std::string::npos);
  EXPECT_NE(error_of("domain other=64\nother frame x\nread x[0]\n").find("second domain"),
            std::string::npos);
  EXPECT_NE(error_of("frame t\nbatch pin l1 t ; remap t ro\n").find("mmuext commands only"),
            std::string::npos);
  std::string out;
  const auto r = run_text(
      "domain clock=40 other=64\n"
      "time -> 0\n"
      "other frame x\n"
      "other remap x ro -> ok\n"
      "frame t\n"
      "remap t ro -> ok\n"
      "batch pin l1 t ; unpin t ; pin l1 t -> ok done=3\n"
      "info t -> dom0 count=3 l1 type_count=1 validated pinned allocated\n"
      "audit\n",
      &out);
  EXPECT_EQ(r.failed_expectations, 0) << out;
}

TEST(HvScript, ShippedExamplesMeetTheirExpectations) {
  const char* root = std::getenv("PIB_SOURCE_DIR");
  ASSERT_NE(root, nullptr);
  int scripts = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(std::filesystem::path(root) / "examples/hv-scripts")) {
    std::ifstream in(e.path());
    std::ostringstream out;
    const auto r = run_hv_script(in, e.path().string(), out);
    EXPECT_EQ(r.failed_expectations, 0) << e.path() << "\n" << out.str();
    EXPECT_GT(r.lines_run, 0);
    ++scripts;
  }
  EXPECT_GE(scripts, 29);
}

TEST(Cli, StatsListPrintsEveryCounterAndUnknownCommandsFail) {
  std::ostringstream out, err;
  EXPECT_EQ(run({"stats", "--list"}, out, err), 0);
  EXPECT_NE(out.str().find("xen.type_change.to_pt"), std::string::npos);
  EXPECT_NE(out.str().find("hw.tlb.misses"), std::string::npos);
  EXPECT_EQ(run({"frobnicate"}, out, err), 2);
  EXPECT_NE(err.str().find("unknown command 'frobnicate'"), std::string::npos);
  std::ostringstream help;
  EXPECT_EQ(run({"hv-script", "--help"}, help, err), 0);
  EXPECT_NE(help.str().find("docs/hv-script.md"), std::string::npos);
  EXPECT_EQ(run({"hv-script", "/no/such/file.hvs"}, out, err), 2);
}

}  // namespace
}  // namespace pib::app
