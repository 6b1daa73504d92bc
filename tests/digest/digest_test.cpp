// SPDX-License-Identifier: MIT
// Does the model still count and time exactly what it did? Every built-in scenario runs under
// every policy, and the fidelity check runs with a trace of one operation; each run is reduced
// to one line (a few readable figures and a 64-bit hash of every count, span, clock pattern and
// modeled time it produced) and compared with tests/digest/expected.txt. A change that makes the
// simulator faster must leave every line as it is; a change meant to change what is modeled
// regenerates the file with scripts/update-digest.sh, and the diff shows which runs moved.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cost/cost_profile.hpp"
#include "fidelity/fidelity.hpp"
#include "policies/policy_table.hpp"
#include "scenario/runner.hpp"

namespace pib {
namespace {

// FNV-1a over everything fed to it; doubles by their bit patterns, so any change shows.
class Digest {
 public:
  void add(uint64_t v) {
    for (int i = 0; i < 8; ++i) byte(static_cast<uint8_t>(v >> (8 * i)));
  }
  void add(double v) {
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    add(bits);
  }
  void add(const std::string& s) {
    add(static_cast<uint64_t>(s.size()));
    for (char c : s) byte(static_cast<uint8_t>(c));
  }
  template <typename T, std::size_t N>
  void add(const std::array<T, N>& a) {
    for (const T& v : a) add(v);
  }
  template <typename T>
  void add(const std::vector<T>& v) {
    add(static_cast<uint64_t>(v.size()));
    for (const T& x : v) add(x);
  }
  std::string hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h_));
    return buf;
  }

 private:
  void byte(uint8_t b) {
    h_ ^= b;
    h_ *= 0x100000001b3ULL;
  }
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// The smallest runs that still take every path a scenario has: one warm-up operation (caches
// fill, tables get reused) and one measured one.
constexpr uint64_t kWarmup = 1;
constexpr uint64_t kIterations = 1;

std::vector<std::string> scenario_lines(const std::string& name) {
  scenario::Scenario s = scenario::find_scenario(name);
  s.iterations = kIterations;
  s.warmup = kWarmup;
  s.policies.clear();
  for (const auto& p : policies::policy_table()) s.policies.emplace_back(p.name);
  const scenario::RunOutput run = scenario::run_scenario(s, cost::find_profile("paper-era-server"));
  std::vector<std::string> lines;
  for (const scenario::PolicyResult& r : run.results) {
    EXPECT_EQ(r.audit, std::vector<std::string>{}) << name << " " << r.policy;
    Digest d;
    d.add(r.operation);
    d.add(r.samples);
    d.add(r.total);
    d.add(r.latency_ns);
    d.add(r.cpu_ns);
    d.add(r.latency.mean);
    d.add(r.mean_cpu_ns);
    d.add(r.span_instances);
    d.add(r.span_counts);
    for (const auto& [kind, held] : r.ptcache_held) {
      d.add(kind);
      d.add(held);
    }
    for (const auto& [pattern, n] : r.clock_patterns) {
      d.add(pattern);
      d.add(n);
    }
    d.add(static_cast<uint64_t>(r.clock_patterns_complete));
    uint64_t events = 0;
    for (uint64_t c : r.total) events += c;
    lines.push_back(name + " " + r.policy + " ops=" + std::to_string(r.samples.size()) +
                    " events=" + std::to_string(events) +
                    " latency_ns=" + fixed(r.latency.mean, 3) + " digest=" + d.hex());
  }
  return lines;
}

std::vector<std::string> fidelity_lines() {
  std::ostringstream trace;
  const std::vector<fidelity::ModeResult> modes =
      fidelity::run(fidelity::default_data_dir(), 1, "fork_exit", &trace);
  std::vector<std::string> lines;
  for (const fidelity::ModeResult& m : modes) {
    Digest d;
    d.add(m.operation);
    for (const fidelity::Figure& f : m.figures) {
      d.add(f.name);
      d.add(f.real);
      d.add(f.model);
      d.add(f.model_min);
      d.add(f.model_max);
      d.add(static_cast<uint64_t>(f.within));
    }
    d.add(m.vmpte_pages_model);
    d.add(m.layouts);
    d.add(m.ticks_per_op);
    d.add(m.traced_op_ms);
    d.add(m.clock_scale);
    uint64_t within = 0;
    for (const fidelity::Figure& f : m.figures) within += f.within ? 1 : 0;
    std::string mode = m.mode;  // one word: "heap64, IOMMU, ASLR on" -> "heap64/IOMMU/ASLR-on"
    for (std::size_t at; (at = mode.find(", ")) != std::string::npos;) mode.replace(at, 2, "/");
    for (char& c : mode) {
      if (c == ' ') c = '-';
    }
    lines.push_back("fidelity " + mode + " figures=" + std::to_string(m.figures.size()) +
                    " within=" + std::to_string(within) + " digest=" + d.hex());
  }
  Digest t;
  t.add(trace.str());
  uint64_t n = 0;
  for (char c : trace.str()) n += c == '\n' ? 1 : 0;
  lines.push_back("fidelity trace(fork_exit) lines=" + std::to_string(n) + " digest=" + t.hex());
  return lines;
}

// Expected lines by their first word (a scenario's name, or "fidelity").
std::map<std::string, std::vector<std::string>> expected() {
  std::map<std::string, std::vector<std::string>> out;
  std::ifstream in(PIB_DIGEST_FILE);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    out[line.substr(0, line.find(' '))].push_back(line);
  }
  return out;
}

// With PIB_DIGEST_WRITE set (scripts/update-digest.sh), the lines go to that file instead.
void check(const std::string& key, const std::vector<std::string>& lines) {
  if (const char* path = std::getenv("PIB_DIGEST_WRITE")) {
    std::ofstream out(path, std::ios::app);
    for (const auto& l : lines) out << l << "\n";
    return;
  }
  const auto want = expected();
  const auto it = want.find(key);
  ASSERT_NE(it, want.end()) << "no lines for " << key << " in " << PIB_DIGEST_FILE
                            << " (scripts/update-digest.sh writes them)";
  EXPECT_EQ(lines, it->second);
}

class EveryScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryScenario, CountsAndTimesAreUnchangedUnderEveryPolicy) {
  check(GetParam(), scenario_lines(GetParam()));
}

std::vector<std::string> names() {
  std::vector<std::string> out;
  for (const auto& b : scenario::builtin_scenarios()) out.push_back(b.name);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Builtin, EveryScenario, ::testing::ValuesIn(names()),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           for (char& c : n) {
                             if (c == '-') c = '_';
                           }
                           return n;
                         });

TEST(Fidelity, FiguresAndTraceAreUnchanged) {
  check("fidelity", fidelity_lines());
}

}  // namespace
}  // namespace pib
