// SPDX-License-Identifier: MIT
// Simulator speed against the real thing: host time per simulated operation (PV baseline,
// PiBooster, native) over host time per real operation, the same operation done here by a
// small static C program (bench/real/real_ops.c). Real and simulated runs alternate within one
// process run, so both see the same machine; each cell is the fastest of the rounds (on a
// shared machine the other load only ever adds time, to either side).
// Printed by `make bench` after the Google Benchmark cases; tests never assert on it.
//
//   pibooster_ratio [--rounds N] [--only TEXT]   (--only: the cases whose label contains TEXT)
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cost/cost_profile.hpp"
#include "scenario/runner.hpp"

extern char** environ;

namespace pib::bench {
namespace {

struct Case {
  std::string label;
  std::vector<std::string> real_args;  // real_ops MODE N [ARG]
  std::string workload;
  std::vector<std::pair<std::string, std::string>> params;
  uint64_t iterations = 0;
  uint64_t memory_mib = 128;
};

const std::vector<std::string> kPolicies = {"baseline", "pibooster", "native"};

std::vector<Case> cases() {
  return {
      {"fork+exit", {"fork_exit", "400"}, "lat_proc.fork", {}, 400},
      {"fork+exec (static hello)", {"fork_exec", "300", PIB_REAL_HELLO}, "lat_proc.exec", {}, 300},
      {"fork+exit, 64 MiB touched",
       {"fork_heap", "40", "64"},
       "lat_proc.fork",
       {{"parent_heap_pages", "16384"}},
       40,
       512},
      {"fork+exit, 256 MiB touched",
       {"fork_heap", "12", "256"},
       "lat_proc.fork",
       {{"parent_heap_pages", "65536"}},
       12,
       512},
      {"mmap+touch+munmap 2 MiB", {"mmap_touch", "200", "2"}, "mem.mmap_touch", {}, 200},
  };
}

// The real program's mean ns per operation (it times itself; spawned without forking this
// large process).
double real_ns(const Case& c) {
  std::vector<std::string> args = {PIB_REAL_OPS};
  args.insert(args.end(), c.real_args.begin(), c.real_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe(fds) != 0) return 0;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  std::string out;
  char buf[128];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  if (rc != 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    std::cerr << "pibooster_ratio: " << args[0] << " " << c.real_args[0] << " failed\n";
    return 0;
  }
  return std::strtod(out.c_str(), nullptr);
}

// Host ns per simulated operation under each policy (the runner's own measure: the measured
// iterations, as `pibooster run --host-time` reports them).
std::vector<double> simulated_ns(const Case& c) {
  scenario::Scenario s;
  s.name = "ratio";
  s.origin = "pibooster_ratio";
  s.workload.name = c.workload;
  for (const auto& [k, v] : c.params) s.workload.params.set(k, v);
  s.set("machine.memory_mib", std::to_string(c.memory_mib), "pibooster_ratio");
  s.iterations = c.iterations;
  s.warmup = 2;
  s.policies = kPolicies;
  const scenario::RunOutput run = scenario::run_scenario(s, cost::find_profile("paper-era-server"));
  std::vector<double> out;
  for (const auto& r : run.results) out.push_back(r.host_ns_per_op);
  return out;
}

double fastest(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::min_element(v.begin(), v.end());
}

int run(int argc, char** argv) {
  int rounds = 5;
  std::string only;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--rounds") rounds = std::max(1, std::atoi(argv[i + 1]));
    if (std::string(argv[i]) == "--only") only = argv[i + 1];
  }
  std::vector<Case> all = cases();
  std::erase_if(all, [&](const Case& c) { return c.label.find(only) == std::string::npos; });
  std::vector<std::vector<double>> real(all.size());
  std::vector<std::vector<std::vector<double>>> sim(
      all.size(), std::vector<std::vector<double>>(kPolicies.size()));
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t i = 0; i < all.size(); ++i) {
      real[i].push_back(real_ns(all[i]));
      const std::vector<double> s = simulated_ns(all[i]);
      for (std::size_t p = 0; p < s.size(); ++p) sim[i][p].push_back(s[p]);
    }
  }
  std::printf("simulator speed: host time per simulated operation / host time per real one\n");
  std::printf("(fastest of %d alternating rounds on this machine; real: bench/real/real_ops.c)\n\n",
              rounds);
  std::printf("%-28s %12s", "operation", "real us/op");
  for (const auto& p : kPolicies) std::printf(" %22s", (p + " us/op (ratio)").c_str());
  std::printf("\n");
  for (std::size_t i = 0; i < all.size(); ++i) {
    const double re = fastest(real[i]);
    std::printf("%-28s %12.1f", all[i].label.c_str(), re / 1000);
    for (std::size_t p = 0; p < kPolicies.size(); ++p) {
      const double s = fastest(sim[i][p]);
      char cell[64];
      std::snprintf(cell, sizeof cell, "%.1f (%.2fx)", s / 1000, re > 0 ? s / re : 0.0);
      std::printf(" %22s", cell);
    }
    std::printf("\n");
  }
  return 0;
}

}  // namespace
}  // namespace pib::bench

int main(int argc, char** argv) {
  return pib::bench::run(argc, argv);
}
