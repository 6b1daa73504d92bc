// SPDX-License-Identifier: MIT
// The model's page-table footprint of a real process equals what the real kernel holds:
// snapshot processes of several shapes started here, rebuild each in the model, compare the
// page-table pages below the pgd with VmPTE.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "snapshot/snapshot.hpp"
#include "system/guest_system.hpp"
#include "workload/snapshot_process.hpp"

namespace pib {
namespace {

// Starts the helper with `args`, waits for "ready", snapshots it, lets it exit.
snapshot::Snapshot snapshot_of(const std::string& binary, const std::vector<std::string>& args) {
  int to_child[2], from_child[2];
  if (pipe(to_child) != 0 || pipe(from_child) != 0) throw std::runtime_error("pipe");
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(to_child[0], 0);
    dup2(from_child[1], 1);
    close(to_child[1]);
    close(from_child[0]);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  char buf[16] = {};
  const ssize_t got = read(from_child[0], buf, sizeof buf - 1);
  snapshot::Snapshot s;
  if (got > 0 && std::string(buf).rfind("ready", 0) == 0) s = snapshot::capture(pid);
  close(to_child[1]);
  close(from_child[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  if (got <= 0) throw std::runtime_error(binary + " did not start");
  return s;
}

std::string helper(const std::string& kind) {
  return std::string(PIB_HELPER_DIR) + "/footprint_target_" + kind;
}

uint64_t model_tables(const snapshot::Snapshot& snap) {
  system::GuestSystemConfig cfg;
  cfg.guest_pages = 16384;
  for (const auto& r : snap.page_runs) cfg.guest_pages += r.pages;
  system::GuestSystem sys(cfg);
  const auto pid = workload::build_snapshot_process(sys, snap);
  EXPECT_EQ(sys.audit(), std::vector<std::string>{});
  return sys.kernel().mm(pid).pt_pages_below_pgd();
}

struct Shape {
  const char* name;
  const char* binary;
  std::vector<std::string> args;
};

class Footprint : public ::testing::TestWithParam<Shape> {};

TEST_P(Footprint, ModelTablesEqualVmPte) {
  const Shape& s = GetParam();
  const snapshot::Snapshot snap = snapshot_of(helper(s.binary), s.args);
  ASSERT_GT(snap.vmpte_kb, 0u);
  const uint64_t model = model_tables(snap);
  EXPECT_EQ(model, snap.vmpte_pages()) << s.name;
  if (model != snap.vmpte_pages()) {
    // Keep the snapshot that disagreed, to rebuild and inspect it later.
    const std::string kept = ::testing::TempDir() + "footprint-" + s.name + ".json";
    std::ofstream(kept) << snapshot::to_json(snap);
    ADD_FAILURE() << "snapshot kept in " << kept;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, Footprint,
                         ::testing::Values(Shape{"tiny_static", "static", {"tiny"}},
                                           Shape{"dynamic", "dynamic", {"tiny"}},
                                           Shape{"large_heap", "static", {"heap", "64"}},
                                           Shape{"many_mappings", "dynamic", {"maps", "40"}}),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(Snapshot, GroundTruthSnapshotsRebuildToTheirVmPte) {
  const std::string dir =
      std::string(std::getenv("PIB_SOURCE_DIR")) + "/data/groundtruth/xen-4.17-linux-6.1/";
  for (const char* f : {"snapshot-fork_exit.json", "snapshot-heap64.json"}) {
    const auto snap = snapshot::load(dir + f);
    EXPECT_EQ(model_tables(snap), snap.vmpte_pages()) << f;
  }
}

TEST(Snapshot, MalformedInputIsNamed) {
  try {
    snapshot::parse_maps("00400000-00401000 r--p 00000000 fe:00 123 /bin/x\nzzz\n", "maps");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("maps:2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(snapshot::parse_maps("00401000-00400000 r--p 0 fe:00 1\n", "maps"), InputError);
  EXPECT_THROW(snapshot::parse("{\"vmas\": []}", "s.json"), InputError);  // no VmPTE
  EXPECT_THROW(snapshot::parse("not json", "s.json"), InputError);
  EXPECT_THROW(snapshot::capture(999999999), InputError);  // no such process
}

// The tracer's cheap probe: a range answers "present" exactly when one of its pages is.
TEST(Snapshot, AnyPresentSeesOnlyTheRangesTouchedPages) {
  constexpr uint64_t kPage = 4096;
  void* mem = mmap(nullptr, 4 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  const auto base = reinterpret_cast<uint64_t>(mem);
  const int self = static_cast<int>(getpid());
  EXPECT_FALSE(snapshot::any_present(self, base, base + 4 * kPage));
  static_cast<volatile char*>(mem)[2 * kPage] = 1;  // the third page only
  EXPECT_TRUE(snapshot::any_present(self, base, base + 4 * kPage));
  EXPECT_TRUE(snapshot::any_present(self, base + 2 * kPage + 100, base + 2 * kPage + 101));
  EXPECT_FALSE(snapshot::any_present(self, base, base + 2 * kPage));
  EXPECT_FALSE(snapshot::any_present(self, base + 3 * kPage, base + 4 * kPage));
  munmap(mem, 4 * kPage);
  EXPECT_THROW(snapshot::any_present(999999999, base, base + kPage), InputError);
}

TEST(Snapshot, JsonRoundTrips) {
  const std::string dir =
      std::string(std::getenv("PIB_SOURCE_DIR")) + "/data/groundtruth/xen-4.17-linux-6.1/";
  const auto a = snapshot::load(dir + "snapshot-heap64.json");
  const auto b = snapshot::parse(snapshot::to_json(a), "again");
  EXPECT_EQ(snapshot::to_json(a), snapshot::to_json(b));
}

}  // namespace
}  // namespace pib

namespace pib {
namespace {

// A snapshot that lists the special pages its process touched (only the vDSO's first page
// here) is rebuilt with exactly those: an untouched [vvar] that starts in another L1 region
// costs no table, as on the real kernel.
TEST(Footprint, ListedSpecialPagesAreTheOnlyOnesTouched) {
  snapshot::Snapshot s;
  s.origin = "synthetic";
  auto map = [&](uint64_t start, uint64_t end, const std::string& perms, const std::string& name) {
    snapshot::MapEntry m;
    m.start = start;
    m.end = end;
    m.perms = perms;
    m.name = name;
    m.inode = name == "prog" ? 1 : 0;
    s.vmas.push_back(m);
  };
  map(0x400000, 0x402000, "r-xp", "prog");
  map(0x7ff7429fe000, 0x7ff742a02000, "r--p", "[vvar]");
  map(0x7ff742a02000, 0x7ff742a04000, "r--p", "[vvar_vclock]");
  map(0x7ff742a04000, 0x7ff742a06000, "r-xp", "[vdso]");
  map(0x7ffe30a17000, 0x7ffe30a38000, "rw-p", "[stack]");
  s.page_runs.push_back({0x400000, 2, true, true, false});
  s.page_runs.push_back({0x7ff742a04000, 1, true, true, false});
  s.page_runs.push_back({0x7ffe30a37000, 1, true, false, true});
  // prog: L3, L2, L1; the top 512 GiB: L3, the vDSO's L2 and L1, the stack's L2 and L1.
  s.vmpte_kb = 8 * 4;
  EXPECT_EQ(model_tables(s), 8u);
}

}  // namespace
}  // namespace pib
