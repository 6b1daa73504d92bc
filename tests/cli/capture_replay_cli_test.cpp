// SPDX-License-Identifier: MIT
// `pibooster capture` and `pibooster replay` as a user types them: a real command captured on
// this machine and replayed under baseline, pibooster and native with every footprint check
// equal; the shipped sample traces replay the same way; a snapshot replays as a one-process
// trace; a truncated trace is an error that names its line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/cli_call.hpp"

namespace pib::test {
namespace {

namespace fs = std::filesystem;

std::string source_dir() {
  const char* d = std::getenv("PIB_SOURCE_DIR");
  return d != nullptr ? d : ".";
}

fs::path scratch(const std::string& name) {
  return fs::temp_directory_path() / ("pib-" + name + "-" + std::to_string(::getpid()));
}

// Every policy's line says "N of N equal".
void expect_all_checks_equal(const CliResult& c, int policies) {
  int lines = 0;
  std::istringstream in(c.out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("footprint checks, ", 0) != 0) continue;
    ++lines;
    const auto colon = line.find(": ");
    const auto of = line.find(" of ");
    const auto equal = line.find(" equal");
    ASSERT_NE(of, std::string::npos) << line;
    const std::string a = line.substr(colon + 2, of - colon - 2);
    const std::string b = line.substr(of + 4, equal - of - 4);
    EXPECT_EQ(a, b) << line;
    EXPECT_NE(b, "0") << line;
  }
  EXPECT_EQ(lines, policies) << c.out;
}

TEST(CaptureReplayCli, ACapturedPipelineReplaysWithEveryFootprintEqual) {
  const fs::path trace = scratch("capture") += ".jsonl";
  const CliResult cap =
      call_cli({"capture", "-o", trace.string(), "--", "sh", "-c", "ls / | wc -l"});
  if (cap.rc != 0 && cap.err.find("not permitted") != std::string::npos) {
    GTEST_SKIP() << "ptrace is not allowed here: " << cap.err;
  }
  ASSERT_EQ(cap.rc, 0) << cap.err;
  EXPECT_NE(cap.out.find("3 process(es)"), std::string::npos) << cap.out;
  const CliResult rep = call_cli({"replay", trace.string()});
  EXPECT_EQ(rep.rc, 0) << rep.out << rep.err;
  expect_all_checks_equal(rep, 3);
  // The per-kind table has the process events of the pipeline: two forks, three execs.
  EXPECT_NE(rep.out.find("  fork             2"), std::string::npos) << rep.out;
  EXPECT_NE(rep.out.find("  exec             3"), std::string::npos) << rep.out;
  fs::remove(trace);
}

TEST(CaptureReplayCli, EveryMemoryCallKindReplaysWithEveryFootprintEqual) {
  // mmap of anonymous memory and of a file, mremap in place and moved, madvise, mprotect,
  // partial munmap, brk up and down, a thread, a fork and a wait (tests/support).
  const fs::path trace = scratch("mm-calls") += ".jsonl";
  const CliResult cap = call_cli({"capture", "-o", trace.string(), "--", PIB_MM_CALLS});
  if (cap.rc != 0 && cap.err.find("not permitted") != std::string::npos) {
    GTEST_SKIP() << "ptrace is not allowed here: " << cap.err;
  }
  ASSERT_EQ(cap.rc, 0) << cap.err;
  EXPECT_NE(cap.out.find("1 thread(s)"), std::string::npos) << cap.out;
  const CliResult rep = call_cli({"replay", trace.string(), "--compare", "baseline,native"});
  EXPECT_EQ(rep.rc, 0) << rep.out << rep.err;
  expect_all_checks_equal(rep, 2);
  for (const char* kind : {"  fork ", "  exec ", "  exit ", "  mmap ", "  munmap ", "  mprotect ",
                           "  brk ", "  mremap ", "  madvise ", "  faults "}) {
    EXPECT_NE(rep.out.find(kind), std::string::npos) << kind << "\n" << rep.out;
  }
  fs::remove(trace);
}

TEST(CaptureReplayCli, TheShippedSamplesReplayUnderEveryPolicy) {
#ifdef PIB_SANITIZED
  const auto names = {"sh-pipeline"};  // the same code as the others, in CI's budget
#else
  const auto names = {"sh-pipeline", "make-j2", "python3-pass", "fork-loop"};
#endif
  for (const char* name : names) {
    const std::string path = source_dir() + "/data/traces/" + name + ".jsonl";
    const CliResult rep = call_cli({"replay", path, "--compare", "baseline,pibooster,native"});
    EXPECT_EQ(rep.rc, 0) << name << "\n" << rep.out << rep.err;
    expect_all_checks_equal(rep, 3);
  }
}

TEST(CaptureReplayCli, ASnapshotReplaysAsAOneProcessTrace) {
  const std::string snap =
      source_dir() + "/data/groundtruth/xen-4.17-linux-6.1/snapshot-fork_exit.json";
  const CliResult rep = call_cli({"replay", snap, "--op", "fork_exit", "--compare", "baseline"});
  EXPECT_EQ(rep.rc, 0) << rep.out << rep.err;
  expect_all_checks_equal(rep, 1);
  EXPECT_NE(rep.out.find("  fork             1"), std::string::npos) << rep.out;
}

TEST(CaptureReplayCli, BadTracesAndArgumentsAreNamed) {
  const fs::path cut = scratch("cut") += ".jsonl";
  {
    std::ifstream in(source_dir() + "/data/traces/sh-pipeline.jsonl");
    std::stringstream all;
    all << in.rdbuf();
    std::ofstream(cut) << all.str().substr(0, all.str().size() / 3);
  }
  const CliResult rep = call_cli({"replay", cut.string()});
  EXPECT_NE(rep.rc, 0);
  EXPECT_NE(rep.err.find(cut.string() + ":"), std::string::npos) << rep.err;
  fs::remove(cut);
  EXPECT_NE(call_cli({"replay", "/no/such/trace"}).err.find("/no/such/trace"), std::string::npos);
  EXPECT_EQ(call_cli({"capture"}).rc, 2);
  EXPECT_EQ(call_cli({"capture", "-o", "x"}).rc, 2);
  EXPECT_NE(call_cli({"replay", "x", "--bogus"}).err.find("--bogus"), std::string::npos);
  const CliResult missing =
      call_cli({"capture", "-o", scratch("m").string(), "--", "/no/such/program"});
  EXPECT_NE(missing.rc, 0);
  EXPECT_NE(missing.err.find("/no/such/program"), std::string::npos) << missing.err;
  fs::remove(scratch("m"));
}

}  // namespace
}  // namespace pib::test
