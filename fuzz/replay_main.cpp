// SPDX-License-Identifier: MIT
// The fuzz target without libFuzzer (any compiler): replays files and directories of inputs,
// then a number of deterministic pseudo-random inputs. The fuzz smoke test of `make test`.
//
//   pibooster_fuzz_replay [--random N] [--seed S] [--save-finding FILE] [--trace] [--fresh]
//                         [--check-restore] [--check-incremental] PATH...
//
// Prints one summary line; on a finding prints it with the input's name, writes the input to
// FILE when asked (random inputs have no file of their own) and exits 1. --fresh builds the
// configurations for every input instead of copying the kept ones; --check-restore runs every
// input both ways and fails unless results, traces and final states are the same.
// --check-incremental runs the full auditor beside the incremental one after every step and
// fails where their verdicts differ.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "hypercall_case.hpp"

namespace {

namespace fs = std::filesystem;

struct Totals {
  uint64_t inputs = 0, steps = 0, generation = 0, policy = 0;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "pibooster_fuzz_replay: %s\nusage: pibooster_fuzz_replay [--random N] [--seed S] "
               "[--save-finding FILE] [--trace] [--fresh] [--check-restore] "
               "[--check-incremental] PATH...\n",
               why.c_str());
  std::exit(2);
}

uint64_t count_arg(const char* flag, const char* text) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (*text == '\0' || *text == '-' || *end != '\0') {
    usage(std::string(flag) + " needs a non-negative integer, not '" + text + "'");
  }
  return v;
}

bool g_trace = false;              // --trace: every step of every input to stdout
bool g_fresh = false;              // --fresh: build the configurations for every input
bool g_check_restore = false;      // --check-restore: copies must behave as fresh builds
bool g_check_incremental = false;  // --check-incremental: the auditors must agree

// Runs `input` on copies of the kept configurations and on fresh builds; the difference, if
// any (empty when both ended alike).
std::string restore_difference(const std::vector<uint8_t>& input) {
  std::ostringstream copied_trace;
  std::ostringstream fresh_trace;
  const auto copied = pib::fuzz::run_hypercall_case(
      input, {.trace = &copied_trace, .fresh = false, .digest = true});
  const auto fresh =
      pib::fuzz::run_hypercall_case(input, {.trace = &fresh_trace, .fresh = true, .digest = true});
  if (copied.finding != fresh.finding) {
    return "restored copies found '" + copied.finding + "', fresh builds '" + fresh.finding + "'";
  }
  if (copied_trace.str() != fresh_trace.str()) return "the step results differ (see --trace)";
  if (copied.digest != fresh.digest) return "the final states differ";
  return {};
}

bool run(const std::string& name, const std::vector<uint8_t>& input, Totals& t,
         const std::string& save) {
  if (g_trace) std::cout << "== " << name << "\n";
  if (g_check_restore) {
    if (const std::string diff = restore_difference(input); !diff.empty()) {
      std::fprintf(stderr, "restore check failed on %s: %s\n", name.c_str(), diff.c_str());
      return false;
    }
  }
  const pib::fuzz::CaseResult r =
      pib::fuzz::run_hypercall_case(input, {.trace = g_trace ? &std::cout : nullptr,
                                            .fresh = g_fresh,
                                            .digest = false,
                                            .verify_audit = g_check_incremental});
  ++t.inputs;
  t.steps += r.steps;
  t.generation += r.generation_compared;
  t.policy += r.policy_compared;
  if (r.finding.empty()) return true;
  std::fprintf(stderr, "finding in %s: %s\n", name.c_str(), r.finding.c_str());
  if (!save.empty()) {
    std::ofstream(save, std::ios::binary)
        .write(reinterpret_cast<const char*>(input.data()),
               static_cast<std::streamsize>(input.size()));
    std::fprintf(stderr, "input written to %s\n", save.c_str());
  }
  return false;
}

std::vector<uint8_t> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) usage("cannot read " + p.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t random_inputs = 0, seed = 1;
  std::string save;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--random" || a == "--seed" || a == "--save-finding") && i + 1 >= argc) {
      usage(a + " needs a value");
    }
    if (a == "--random") {
      random_inputs = count_arg("--random", argv[++i]);
    } else if (a == "--seed") {
      seed = count_arg("--seed", argv[++i]);
    } else if (a == "--save-finding") {
      save = argv[++i];
    } else if (a == "--trace") {
      g_trace = true;
    } else if (a == "--fresh") {
      g_fresh = true;
    } else if (a == "--check-restore") {
      g_check_restore = true;
    } else if (a == "--check-incremental") {
      g_check_incremental = true;
    } else if (a.starts_with("--")) {
      usage("unknown option " + a);
    } else if (fs::is_directory(a)) {
      for (const auto& e : fs::directory_iterator(a)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
    } else if (fs::is_regular_file(a)) {
      files.emplace_back(a);
    } else {
      usage(a + " is neither a file nor a directory");
    }
  }
  std::sort(files.begin(), files.end());
  Totals t;
  for (const auto& f : files) {
    if (!run(f.string(), read_file(f), t, save)) return 1;
  }
  const uint64_t corpus = t.inputs;
  std::mt19937_64 rng(seed);
  for (uint64_t n = 0; n < random_inputs; ++n) {
    std::vector<uint8_t> input(1 + rng() % 320);
    for (auto& b : input) b = static_cast<uint8_t>(rng());
    if (!run("random input " + std::to_string(n) + " (seed " + std::to_string(seed) + ")", input, t,
             save)) {
      return 1;
    }
  }
  std::printf(
      "fuzz replay: %llu corpus + %llu random inputs, %llu steps (%llu compared across "
      "generations, %llu across policies), no findings%s%s\n",
      static_cast<unsigned long long>(corpus), static_cast<unsigned long long>(random_inputs),
      static_cast<unsigned long long>(t.steps), static_cast<unsigned long long>(t.generation),
      static_cast<unsigned long long>(t.policy),
      g_check_restore ? "; restored copies behaved as fresh builds" : "",
      g_check_incremental ? "; the incremental auditor agreed with the full one at every check"
                          : "");
  return 0;
}
