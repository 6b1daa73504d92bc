// SPDX-License-Identifier: MIT
#include "app/calibrate_cmd.hpp"

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <ostream>
#include <vector>

#include "common/error.hpp"
#include "cost/cost_profile.hpp"
#include "system/guest_system.hpp"

namespace pib::app {

const char* const kCalibrateHelp = R"(usage: pibooster calibrate [-o FILE] [--base PROFILE]

Measures on this machine: zeroing and copying a 4 KiB page (cold, page at a time), a system
call round trip (getppid), and this model's own host time per validated page-table entry; then
writes a cost profile (default: stdout) whose measured rows are marked M and name the
measurement. Every other row (TLB flushes, IPIs, hypervisor-internal work) cannot be measured
from user space and is copied from the base profile (default paper-era-server), saying so.
Also prints, for reference, this machine's real fork+exit+wait of a small process.
)";

namespace {

using Clock = std::chrono::steady_clock;

double ns_since(Clock::time_point t0, uint64_t n) {
  return static_cast<double>(
             std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count()) /
         static_cast<double>(n);
}

// A measurement: the median of several rounds, and the fastest and slowest round (the range
// the calibrated profile gives the row).
struct Measured {
  double median = 0;
  double low = 0;
  double high = 0;
};

// `rounds` measurements of fn() (each returning ns per operation).
template <typename Fn>
Measured median_of(int rounds, Fn fn) {
  std::vector<double> v;
  v.reserve(static_cast<std::size_t>(rounds));
  for (int i = 0; i < rounds; ++i) v.push_back(fn());
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

Measured scaled(Measured m, double k) {
  return {m.median * k, m.low * k, m.high * k};
}

// Pages of a 64 MiB buffer, visited in order: larger than the last-level cache, so each page
// is cold when it is cleared, as a freshly allocated page is.
constexpr std::size_t kBufferPages = 16384;

Measured measure_zero_page() {
  static std::vector<char> buf(kBufferPages * 4096);
  return median_of(5, [] {
    const auto t0 = Clock::now();
    for (std::size_t p = 0; p < kBufferPages; ++p) std::memset(&buf[p * 4096], 0, 4096);
    asm volatile("" ::"r"(buf.data()) : "memory");
    return ns_since(t0, kBufferPages);
  });
}

Measured measure_copy_page() {
  static std::vector<char> src(kBufferPages * 4096, 1), dst(kBufferPages * 4096);
  return median_of(5, [] {
    const auto t0 = Clock::now();
    for (std::size_t p = 0; p < kBufferPages; ++p)
      std::memcpy(&dst[p * 4096], &src[p * 4096], 4096);
    asm volatile("" ::"r"(dst.data()) : "memory");
    return ns_since(t0, kBufferPages);
  });
}

Measured measure_syscall() {
  return median_of(5, [] {
    constexpr uint64_t n = 200000;
    const auto t0 = Clock::now();
    for (uint64_t i = 0; i < n; ++i) syscall(SYS_getppid);
    return ns_since(t0, n);
  });
}

Measured measure_fork_exit() {
  return median_of(3, [] {
    constexpr uint64_t n = 200;
    const auto t0 = Clock::now();
    for (uint64_t i = 0; i < n; ++i) {
      const pid_t p = fork();
      if (p == 0) _exit(0);
      if (p < 0) throw InputError("calibrate: fork failed");
      int st = 0;
      waitpid(p, &st, 0);
    }
    return ns_since(t0, n);
  });
}

// Host time this model spends per present entry validated or devalidated: a fork and exit of
// a process with 2,048 touched pages under the Xen pv-ops.
Measured measure_model_validation() {
  system::GuestSystemConfig cfg;
  cfg.guest_pages = 16384;
  system::GuestSystem sys(cfg);
  auto& k = sys.kernel();
  const auto img = guest::builtin_image("tiny-static");
  const auto p = k.spawn(img);
  k.run_startup(p, img);
  const uint64_t a = k.mmap(p, guest::MapRequest::anonymous(2048 * kPageSize));
  for (uint64_t i = 0; i < 2048; ++i) k.store(p, a + i * kPageSize, i);
  return median_of(5, [&] {
    const uint64_t before = sys.ledger().count(sim::Event::kXenValidateEntriesPresent) +
                            sys.ledger().count(sim::Event::kXenDevalidateEntriesPresent);
    const auto t0 = Clock::now();
    for (int i = 0; i < 5; ++i) {
      const auto c = k.fork(p);
      k.exit(c);
      k.schedule(p);
    }
    const uint64_t n = sys.ledger().count(sim::Event::kXenValidateEntriesPresent) +
                       sys.ledger().count(sim::Event::kXenDevalidateEntriesPresent) - before;
    return ns_since(t0, n);
  });
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace

int cmd_calibrate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string out_file, base = "paper-era-server";
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] != "-o" && args[i] != "--base") {
      throw InputError("unknown flag '" + args[i] + "' (see pibooster calibrate --help)");
    }
    if (i + 1 >= args.size()) throw InputError(args[i] + " needs a value (see --help)");
    if (args[i] == "-o") {
      out_file = args[++i];
    } else {
      base = args[++i];
    }
  }
  cost::CostProfile p = cost::find_profile(base);
  // First, while this process is still small (the buffers below would make fork copy them).
  const Measured fork_exit = measure_fork_exit();
  const Measured zero = measure_zero_page();
  const Measured copy = measure_copy_page();
  const Measured sys = measure_syscall();
  const Measured model = measure_model_validation();
  std::string text = p.to_toml();
  // Mark every copied row as literature, then put the measured rows in.
  std::string resolved;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string line = text.substr(pos, eol - pos);
    const auto src = line.find("source = \"");
    if (line.rfind('"', 0) == 0 && src != std::string::npos) {
      line.insert(src + 10, "not measurable here; from " + base + ": ");
    }
    resolved += line + "\n";
    pos = eol + 1;
  }
  cost::CostProfile c = cost::CostProfile::parse(resolved, "calibrate");
  auto put = [&](const char* key, Measured m, const std::string& how) {
    std::string t = c.to_toml();
    const auto at = t.find(std::string("\"") + key + "\"");
    const auto end = t.find('\n', at);
    t.replace(at, end - at,
              std::string("\"") + key + "\" = { ns = " + fmt(m.median) + ", low = " + fmt(m.low) +
                  ", high = " + fmt(m.high) +
                  ", dist = \"uniform\", mark = \"M\", uncertainty = \"this machine: median, "
                  "fastest and slowest of the runs\", source = \"" +
                  how + "\" }");
    c = cost::CostProfile::parse(t, "calibrate");
  };
  put("hw.mem.zero_page", zero,
      "pibooster calibrate: memset of 4 KiB, page after page of a 64 MiB buffer");
  put("hw.mem.copy_page", copy,
      "pibooster calibrate: memcpy of 4 KiB, page after page of 64 MiB buffers");
  put("guest.kernel_entry", sys, "pibooster calibrate: syscall(SYS_getppid) round trip");
  put("xen.entries", scaled(sys, 2.5),
      "pibooster calibrate: 2.5 x the measured syscall round trip (a 64-bit PV hypercall is 2-3 "
      "syscall-like transitions plus dispatch, cost-sources §6)");
  put("xen.validate.present", model,
      "pibooster calibrate: this model's host time per present entry validated or devalidated "
      "(a proxy for Xen's reference counting per entry)");
  put("xen.devalidate.present", model, "pibooster calibrate: as xen.validate.present");
  std::string text_out = c.to_toml();
  const auto nl = text_out.find('\n');
  text_out =
      "# Calibrated on this machine by pibooster calibrate (base profile " + base +
      ").\n# For reference: real fork+exit+wait of this process here: " + fmt(fork_exit.median) +
      " ns.\n" + text_out.substr(nl + 1);
  const auto name_at = text_out.find("name = \"");
  text_out.replace(name_at, text_out.find('\n', name_at) - name_at, "name = \"calibrated\"");
  if (out_file.empty()) {
    out << text_out;
  } else {
    std::ofstream f(out_file);
    if (!f) throw InputError("cannot write '" + out_file + "'");
    f << text_out;
    err << "wrote " << out_file << " (zero page " << fmt(zero.median) << " ns, copy page "
        << fmt(copy.median) << " ns, syscall " << fmt(sys.median) << " ns, model validation "
        << fmt(model.median) << " ns/entry; real fork+exit " << fmt(fork_exit.median) << " ns)\n";
  }
  return 0;
}

}  // namespace pib::app
