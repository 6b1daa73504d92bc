// SPDX-License-Identifier: MIT
// Does hostile input get a clear error naming what and where, instead of a crash, a hang or a
// silent acceptance? One test per class of bad input (issue 18's list), each through the
// command line as a user types it (or the script front end it feeds), asserting the message.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "app/hv_script.hpp"
#include "common/error.hpp"
#include "snapshot/snapshot.hpp"
#include "support/cli_call.hpp"

namespace pib::test {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system's temporary one, removed with the object.
class TempDir {
 public:
  explicit TempDir(const std::string& tag)
      : path_(fs::temp_directory_path() /
              ("pib-hostile-" + tag + "-" +
               std::to_string(::testing::UnitTest::GetInstance()->random_seed()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name, const std::string& text) const {
    const fs::path p = path_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

// The CLI refused the input (exit status 2) with a message containing `what`.
#define EXPECT_REFUSED(result, what)                                             \
  do {                                                                           \
    const CliResult r_ = (result);                                               \
    EXPECT_EQ(r_.rc, 2) << r_.out << r_.err;                                     \
    EXPECT_NE(r_.err.find(what), std::string::npos) << "stderr was: " << r_.err; \
  } while (0)

std::string script_error(const std::string& text) {
  std::istringstream in(text);
  std::ostringstream out;
  try {
    app::run_hv_script(in, "t.hvs", out);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

// ---- ground-truth JSON ------------------------------------------------------------------------

TEST(HostileInput, GroundTruthWithANumberOrNullWhereAnObjectBelongsNamesThePath) {
  TempDir d("gt-types");
  d.file("counts.json", R"J({"fork_exit": 5})J");
  EXPECT_REFUSED(call_cli({"fidelity", "--data", d.str()}),
                 "counts.json: fork_exit must be an object, not number");
  d.file("counts.json", R"J({"fork_exit": {"xen": null, "linux": {"per_op": {}}}})J");
  EXPECT_REFUSED(call_cli({"fidelity", "--data", d.str()}),
                 "counts.json: fork_exit.xen must be an object, not null");
  d.file("counts.json", R"J({"fork_exit": {"xen": {"per_op": {"mmu_update (direct)": "44"}},
                            "linux": {"per_op": {}}}})J");
  EXPECT_REFUSED(call_cli({"fidelity", "--data", d.str()}),
                 "fork_exit.xen.per_op.mmu_update (direct) must be a number, not string");
  d.file("counts.json", R"J([1, 2])J");
  EXPECT_REFUSED(call_cli({"fidelity", "--data", d.str()}),
                 "counts.json: the top level must be an object, not array");
  // The IOMMU file is checked before anything runs, too.
  d.file("counts.json", R"J({"fork_exit": {"xen": {"per_op": {}}, "linux": {"per_op": {}}}})J");
  d.file("iommu-counts.json", R"J({"aslr_on": {"fork_exit": {"IOTLB DSI": 3}}})J");
  EXPECT_REFUSED(call_cli({"fidelity", "--data", d.str()}),
                 "iommu-counts.json: aslr_on.fork_exit.IOTLB DSI must be an object, not number");
  d.file("iommu-counts.json",
         R"J({"aslr_on": {"fork_exit": {"IOTLB DSI": {"caching_mode_on": 1e300}}}})J");
  EXPECT_REFUSED(call_cli({"fidelity", "--data", d.str()}),
                 "IOTLB DSI.caching_mode_on must be a number from -1e9 to 1e9, got 1e+300");
}

TEST(HostileInput, AnEmptyGroundTruthIsNotReportedAsAllWithinTolerance) {
  TempDir d("gt-empty");
  d.file("counts.json", "{}");
  EXPECT_REFUSED(call_cli({"fidelity", "--data", d.str()}),
                 "counts.json: the top level names none of fork_exit, heap64, mmap_touch, "
                 "brk_cycle, mprotect_cycle, munmap_partial, brk_cycle@norandmaps, "
                 "mprotect_cycle@norandmaps, munmap_partial@norandmaps: nothing to compare");
  d.file("counts.json", R"J({"fork_exit ": {}})J");
  EXPECT_REFUSED(call_cli({"fidelity", "--data", d.str()}),
                 "unknown key 'fork_exit ' (valid: fork_exit, heap64, mmap_touch, brk_cycle, "
                 "mprotect_cycle, munmap_partial, brk_cycle@norandmaps, "
                 "mprotect_cycle@norandmaps, munmap_partial@norandmaps, method)");
}

TEST(HostileInput, ASnapshotWithMillionsOfPagesIsRefusedBeforeAnythingRuns) {
  TempDir d("gt-huge");
  d.file("counts.json", R"J({"fork_exit": {"xen": {"per_op": {}}, "linux": {"per_op": {}}}})J");
  d.file("snapshot-fork_exit.json", R"J({"VmPTE_kB": 28, "vmas": [],
      "page_runs": [{"start": "0x400000", "pages": 5000000, "file_or_shared_anon": false}]})J");
  EXPECT_REFUSED(call_cli({"fidelity", "--data", d.str()}),
                 "page_runs hold more than 65536 present pages");
  EXPECT_REFUSED(call_cli({"fidelity", "--iterations", "100000000"}),
                 "--iterations must be 1 to 1000, got 100000000");
  d.file("snapshot-fork_exit.json", R"J({"VmPTE_kB": -28, "vmas": [], "page_runs": []})J");
  EXPECT_REFUSED(call_cli({"fidelity", "--data", d.str()}),
                 "VmPTE_kB must be a non-negative integer, got -28");
}

// ---- hypercall scripts ------------------------------------------------------------------------

TEST(HostileInput, HugeHvScriptDomainsAreRefusedBeforeAllocation) {
  EXPECT_NE(script_error("domain pages=99999999999\n")
                .find("t.hvs:1: domain pages = 99999999999 is out of range (1 to 262144)"),
            std::string::npos);
  EXPECT_NE(script_error("domain vcpus=100000\n").find("domain vcpus = 100000 is out of range"),
            std::string::npos);
  EXPECT_NE(script_error("domain cpus=0\n").find("domain cpus = 0 is out of range (1 to 64)"),
            std::string::npos);
}

TEST(HostileInput, HvScriptMemoryOpListsAreBoundedBeforeAllocation) {
  EXPECT_NE(script_error("increase_reservation 99999999999 -> 0\n")
                .find("t.hvs:1: at most 4096 extents per memory_op line"),
            std::string::npos);
  EXPECT_NE(script_error("frame a\ndecrease_reservation a -> ok\n")
                .find("t.hvs:2: memory_op returns a count"),
            std::string::npos);
  EXPECT_NE(script_error("dma read 0x1000\n").find("t.hvs:1: no device"), std::string::npos);
  EXPECT_NE(script_error("domain device=3\n").find("'device' needs an iommu mode"),
            std::string::npos);
  EXPECT_NE(script_error("domain policy=nope\n").find("unknown policy 'nope'"), std::string::npos);
  EXPECT_NE(script_error("vcpu 5 flush local\n").find("t.hvs:1: no vcpu 5"), std::string::npos);
  EXPECT_NE(script_error("count no.such\n").find("unknown counter 'no.such'"), std::string::npos);
}

TEST(HostileInput, HvScriptOnADirectoryOrADeviceIsAnError) {
  TempDir d("hvs-dir");
  EXPECT_REFUSED(call_cli({"hv-script", d.str()}), "is a directory, not a file");
  EXPECT_REFUSED(call_cli({"hv-script", "/dev/zero"}),
                 "script '/dev/zero' is not a regular file (a device, pipe or socket)");
  EXPECT_REFUSED(call_cli({"hv-script", d.str() + "/missing.hvs"}), "cannot open script");
  const std::string big = d.file("big.hvs", std::string(app::kMaxScriptBytes + 1, '#'));
  EXPECT_REFUSED(call_cli({"hv-script", big}), "bytes; the limit is 1048576");
  const std::string nul = d.file("nul.hvs", std::string("frame a\n\0\0\0\n", 12));
  EXPECT_REFUSED(call_cli({"hv-script", nul}), "nul.hvs:2: control character 0x00");
}

TEST(HostileInput, ScenariosProfilesAndGroundTruthThatAreNotFilesAreRefused) {
  // /dev/zero never ends: reading it would hang; a directory reads as empty.
  EXPECT_REFUSED(call_cli({"run", "/dev/zero"}),
                 "scenario '/dev/zero' is not a regular file (a device, pipe or socket)");
  TempDir d("not-files");
  EXPECT_REFUSED(call_cli({"run", d.str()}), "scenario '" + d.str() + "' is a directory");
  EXPECT_REFUSED(call_cli({"run", "pibooster-fork", "--profile", "/dev/zero"}),
                 "cost profile '/dev/zero' is not a regular file");
  fs::create_directories(fs::path(d.str()) / "counts.json");
  EXPECT_REFUSED(call_cli({"fidelity", "--data", d.str()}),
                 "ground truth '" + d.str() + "/counts.json' is a directory");
}

TEST(HostileInput, NegativeNumbersAreRefusedNotWrapped) {
  const std::string e = script_error("domain pages=-1\n");
  EXPECT_NE(e.find("t.hvs:1: not a non-negative number: '-1'"), std::string::npos) << e;
  EXPECT_EQ(e.find("18446744073709551615"), std::string::npos) << e;
  EXPECT_NE(script_error("frame a\nmmu_update a[-1] = 0\n").find("t.hvs:2: not a non-negative"),
            std::string::npos);
  EXPECT_NE(script_error("frame a\nmmu_update a[0] = -5\n").find("'-5'"), std::string::npos);
  const CliResult r = call_cli({"run", "lmbench-fork", "--seed", "-3"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.err.find("18446744073709551613"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--seed"), std::string::npos) << r.err;
}

TEST(HostileInput, CrlfScriptsRunLikeLfScripts) {
  std::istringstream crlf("frame a\r\nremap a ro -> ok\r\npin l1 a -> ok   # comment\r\n");
  std::istringstream lf("frame a\nremap a ro -> ok\npin l1 a -> ok   # comment\n");
  std::ostringstream out_crlf, out_lf;
  const auto a = app::run_hv_script(crlf, "t.hvs", out_crlf);
  const auto b = app::run_hv_script(lf, "t.hvs", out_lf);
  EXPECT_EQ(a.failed_expectations, 0) << out_crlf.str();
  EXPECT_EQ(a.lines_run, 2);  // remap and pin (a declaration is not a run line)
  EXPECT_EQ(a.lines_run, b.lines_run);
  EXPECT_EQ(out_crlf.str(), out_lf.str());
}

// ---- run, workload and profiles ---------------------------------------------------------------

TEST(HostileInput, IterationsAndWarmupFlagsHaveTheScenarioCap) {
  EXPECT_REFUSED(call_cli({"run", "lmbench-fork", "--iterations", "100000000"}), "--iterations");
  EXPECT_REFUSED(call_cli({"run", "lmbench-fork", "--warmup", "100000000"}), "--warmup");
  EXPECT_REFUSED(call_cli({"workload", "lat_proc.fork", "--iterations", "100000000"}),
                 "--iterations");
  EXPECT_REFUSED(call_cli({"run", "lmbench-fork", "--iterations", "0"}), "--iterations");
}

TEST(HostileInput, HugeWorkloadParametersAreRefusedBeforeAnythingRuns) {
  // Page counts that would wrap a size computation, and counts that would loop for hours.
  EXPECT_REFUSED(call_cli({"workload", "cpu.touch", "--param", "pages=4503599627370497"}),
                 "parameter pages=4503599627370497 is above its limit 1000000");
  EXPECT_REFUSED(
      call_cli({"workload", "lat_proc.fork", "--param", "parent_heap_pages=99999999999"}),
      "parameter parent_heap_pages=99999999999 is above its limit 1000000");
  EXPECT_REFUSED(call_cli({"workload", "net.rx", "--param", "packets=18446744073709551615"}),
                 "parameter packets=18446744073709551615 is above its limit 1000000");
  // Within the limit but beyond the guest's memory: the guest says so.
  EXPECT_REFUSED(call_cli({"workload", "cpu.touch", "--param", "pages=1000000"}),
                 "guest out of memory");
}

TEST(HostileInput, DuplicateParamsAndPoliciesAreRefused) {
  EXPECT_REFUSED(call_cli({"workload", "cpu.touch", "--param", "pages=8", "--param", "pages=9"}),
                 "--param pages is given twice");
  EXPECT_REFUSED(call_cli({"run", "lmbench-fork", "--compare", "baseline,pibooster,baseline"}),
                 "--compare baseline,pibooster,baseline: policy 'baseline' is listed twice");
  TempDir d("dup-policy");
  const std::string sc = d.file("s.toml", R"J(policies = ["baseline", "baseline"]
[scenario]
name = "dup"
[workload]
name = "lat_proc.fork"
)J");
  EXPECT_REFUSED(call_cli({"run", sc}), "policy 'baseline' is listed twice");
}

TEST(HostileInput, AScenarioNameCannotWriteOutsideResults) {
  TempDir d("escape");
  for (const std::string name : {"../../x", "/tmp/x", "a/b", "..", ".hidden", ""}) {
    const std::string sc = d.file("s.toml", "[scenario]\nname = \"" + name +
                                                "\"\niterations = 1\n[workload]\nname = "
                                                "\"lat_proc.fork\"\n");
    EXPECT_REFUSED(call_cli({"run", sc}), "scenario.name '" + name + "' must be 1 to 64");
  }
  EXPECT_FALSE(fs::exists(fs::path(d.str()) / ".." / ".." / "x"));
}

TEST(HostileInput, NonFiniteOrHugeUnitCostsAreRefused) {
  for (const std::string v : {"nan", "inf", "-1", "1e300"}) {
    EXPECT_REFUSED(call_cli({"run", "lmbench-fork", "--set", "xen.entries=" + v}),
                   "--set xen.entries: '" + v + "' is not a number of nanoseconds from 0 to 1e9");
  }
  TempDir d("profile");
  for (const std::string v : {"1e300", "inf", "nan"}) {
    const std::string p = d.file("p.toml",
                                 "[profile]\nname = \"p\"\ndescription = \"d\"\n[costs]\n"
                                 "\"xen.entries\" = { ns = " +
                                     v +
                                     ", mark = \"E\", uncertainty = \"x2\", source = "
                                     "\"s\" }\n");
    EXPECT_REFUSED(call_cli({"run", "lmbench-fork", "--profile", p}),
                   "xen.entries.ns must be a number from 0 to 1e9");
  }
}

}  // namespace
}  // namespace pib::test
