// SPDX-License-Identifier: MIT
#include "app/native_timing.hpp"

#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "app/sweep_engines.hpp"
#include "common/error.hpp"

namespace pib::app {

namespace {

using Clock = std::chrono::steady_clock;

double ns_since(Clock::time_point t0, uint64_t n) {
  return static_cast<double>(
             std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count()) /
         static_cast<double>(n);
}

template <typename Fn>
Measured rounds_of(int rounds, Fn fn) {
  std::vector<double> v;
  for (int i = 0; i < rounds; ++i) v.push_back(fn());
  return summarise(v);
}

// Pages of a 64 MiB buffer, visited in order: larger than the last-level cache, so each page
// is cold when it is cleared, as a freshly allocated page is.
constexpr std::size_t kBufferPages = 16384;

}  // namespace

Measured summarise(std::vector<double> v) {
  if (v.empty()) throw InputError("calibrate: no measurement");
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

Measured measure_zero_page(int rounds) {
  std::vector<char> buf(kBufferPages * 4096, 1);
  return rounds_of(rounds, [&] {
    const auto t0 = Clock::now();
    for (std::size_t p = 0; p < kBufferPages; ++p) std::memset(&buf[p * 4096], 0, 4096);
    asm volatile("" ::"r"(buf.data()) : "memory");
    return ns_since(t0, kBufferPages);
  });
}

Measured measure_copy_page(int rounds) {
  std::vector<char> src(kBufferPages * 4096, 1), dst(kBufferPages * 4096, 2);
  return rounds_of(rounds, [&] {
    const auto t0 = Clock::now();
    for (std::size_t p = 0; p < kBufferPages; ++p)
      std::memcpy(&dst[p * 4096], &src[p * 4096], 4096);
    asm volatile("" ::"r"(dst.data()) : "memory");
    return ns_since(t0, kBufferPages);
  });
}

Measured measure_syscall(int rounds) {
  return rounds_of(rounds, [] {
    constexpr uint64_t n = 200000;
    const auto t0 = Clock::now();
    for (uint64_t i = 0; i < n; ++i) syscall(SYS_getppid);
    return ns_since(t0, n);
  });
}

Measured run_probe(const std::string& probe, const std::string& mode, int rounds, int n, int mib) {
  const std::string cmd = sh_quote(probe) + " " + mode + " " + std::to_string(rounds) + " " +
                          std::to_string(n) + (mib > 0 ? " " + std::to_string(mib) : "");
  std::unique_ptr<FILE, int (*)(FILE*)> p(::popen(cmd.c_str(), "r"), ::pclose);
  if (!p) throw InputError("calibrate: cannot run " + cmd);
  std::vector<double> v;
  char line[64];
  while (std::fgets(line, sizeof line, p.get()) != nullptr) v.push_back(std::strtod(line, nullptr));
  const int status = ::pclose(p.release());
  if (status != 0 || static_cast<int>(v.size()) != rounds) {
    throw InputError("calibrate: '" + cmd + "' failed (exit status " + std::to_string(status) +
                     ")");
  }
  return summarise(v);
}

std::string find_probe(const std::string& given) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path probe =
      given.empty() ? fs::read_symlink("/proc/self/exe", ec).parent_path() / "pibooster-probe"
                    : fs::path(given);
  if (ec || !fs::is_regular_file(probe)) {
    throw InputError("calibrate: no native probe at '" + probe.string() +
                     "' (it is built beside pibooster; or give --probe PATH)");
  }
  return probe.string();
}

std::string this_machine() {
  std::string cpu = "unknown CPU";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname u{};
  ::uname(&u);
  return cpu + ", Linux " + u.release + ", " +
         std::to_string(std::max(1u, std::thread::hardware_concurrency())) + " CPUs";
}

}  // namespace pib::app
