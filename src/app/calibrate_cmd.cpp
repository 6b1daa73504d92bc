// SPDX-License-Identifier: MIT
#include "app/calibrate_cmd.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

#include "app/args.hpp"
#include "app/calibration.hpp"
#include "app/native_timing.hpp"
#include "app/safe_write.hpp"
#include "common/error.hpp"
#include "cost/cost_profile.hpp"

namespace pib::app {

const char* const kCalibrateHelp =
    R"(usage: pibooster calibrate [-o FILE] [--base PROFILE] [--rounds N] [--probe PATH]
       pibooster calibrate --check [--profile FILE] [--rounds N] [--probe PATH]

Measures on this machine, natively, what user space can show, and writes a cost profile
(default: stdout) named "calibrated":
  measured   hw.mem.zero_page, hw.mem.copy_page (memset/memcpy of 4 KiB, page after page of
             64 MiB), guest.kernel_entry (a getppid round trip)
  fitted     guest.fork and guest.exit (from fork+exit), guest.exec (fork+exec), guest.fork.ptes
             and guest.zap.ptes (fork of a 64 MiB heap), guest.fault (mmap+touch+munmap of
             64 MiB): each the value that makes the model's time of that operation, under the
             native policy, equal the time measured here, given every other row; rows fitted
             from one operation keep the base profile's ratio
Measured and fitted rows are marked M, their range the fastest and slowest of N rounds. Every
other row (TLB flushes, IPIs, everything inside Xen or the IOMMU) cannot be seen from user
space: it is the base profile's (default paper-era-server), and its source says so. The real
operations are timed by pibooster-probe, a small static program beside pibooster (as
lmbench's lat_proc is small), not by this process; the simulator's own speed is never used.

--check runs the native policy on the calibrated profile (or on --profile FILE, measuring
afresh) and prints each real operation's measured and predicted time: the fitting ones, and
those predicted (vfork+exec, fork of a 256 MiB heap, mmap+touch+munmap of 2 MiB) whose error
is the check. Target: every predicted one within +-15 %. Exit status 1 when it is not met.

options:
  -o FILE          write the profile to FILE
  --base PROFILE   where the rows not measured come from (default paper-era-server)
  --rounds N       rounds of each measurement (default 5; the median is taken)
  --probe PATH     the native probe (default: pibooster-probe beside this program)
)";

namespace {

std::string fmt(double v, const char* f = "%.1f") {
  char buf[48];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

struct CalibrateArgs {
  std::string out_file;
  std::string base = "paper-era-server";
  std::string check_profile;
  std::string probe;
  int rounds = 5;
  bool check = false;
};

CalibrateArgs parse(const std::vector<std::string>& args) {
  CalibrateArgs a;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& f = args[i];
    if (f == "--check") {
      a.check = true;
      continue;
    }
    if (f != "-o" && f != "--base" && f != "--rounds" && f != "--probe" && f != "--profile") {
      throw InputError("unknown flag '" + f + "' (see pibooster calibrate --help)");
    }
    if (i + 1 >= args.size()) throw InputError(f + " needs a value (see --help)");
    const std::string& v = args[++i];
    if (f == "-o") a.out_file = v;
    if (f == "--base") a.base = v;
    if (f == "--probe") a.probe = v;
    if (f == "--profile") a.check_profile = v;
    if (f == "--rounds") {
      const uint64_t n = parse_u64(f, v);
      if (n < 1 || n > 100) throw InputError("--rounds expects 1..100, got " + v);
      a.rounds = static_cast<int>(n);
    }
  }
  if (!a.check_profile.empty() && !a.check) throw InputError("--profile goes with --check");
  return a;
}

struct Measurements {
  Measured zero, copy, syscall;
  std::vector<Measured> ops;  // check_ops() order
};

Measurements measure(const std::string& probe, int rounds) {
  Measurements m;
  // The probe's processes first, while this one has not yet grown the 128 MiB of buffers.
  m.ops = measure_ops(probe, rounds);
  m.zero = measure_zero_page(rounds);
  m.copy = measure_copy_page(rounds);
  m.syscall = measure_syscall(rounds);
  return m;
}

cost::UnitCost measured_row(double ns, double low, double high, const std::string& source) {
  cost::UnitCost u;
  u.ns = ns;
  u.low = std::min({low, ns, high});
  u.high = std::max({low, ns, high});
  u.dist = u.low < u.high ? cost::Dist::kUniform : cost::Dist::kFixed;
  u.mark = 'M';
  u.uncertainty = "this machine: the fastest and slowest of the rounds";
  u.source = source;
  return u;
}

cost::CostProfile calibrated(const std::string& base_name, const Measurements& m,
                             const std::vector<ModelOp>& model, std::string& warnings) {
  cost::CostProfile p = cost::find_profile(base_name);
  for (const auto& e : sim::kEventTable) {
    if (e.cost != sim::Cost::kWork) continue;
    cost::UnitCost u = p.unit(e.event);
    u.source = "not measurable here; from " + base_name + ": " + u.source;
    p.replace(e.event, u);
  }
  const std::string how = "pibooster calibrate on " + this_machine() + ": ";
  p.replace(sim::Event::kHwMemZeroPage,
            measured_row(m.zero.median, m.zero.low, m.zero.high,
                         how + "memset of 4 KiB, page after page of a 64 MiB buffer"));
  p.replace(sim::Event::kHwMemCopyPage,
            measured_row(m.copy.median, m.copy.low, m.copy.high,
                         how + "memcpy of 4 KiB, page after page of 64 MiB buffers"));
  p.replace(sim::Event::kGuestKernelEntry,
            measured_row(m.syscall.median, m.syscall.low, m.syscall.high,
                         how + "syscall(SYS_getppid) round trip"));
  // The fit at the median measurements, and at the fastest and slowest rounds for the range.
  auto at = [&](double Measured::*end) {
    std::vector<double> v;
    for (const Measured& x : m.ops) v.push_back(x.*end);
    return fit_rows(p, model, v);
  };
  const Fit mid = at(&Measured::median), lo = at(&Measured::low), hi = at(&Measured::high);
  for (const auto& n : mid.negative) {
    warnings += "calibrate: " + n +
                " fitted below 0 (the model's other rows alone exceed the measured time); set "
                "to 0\n";
  }
  const auto& ops = check_ops();
  std::size_t r = 0;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    for (std::size_t j = 0; j < ops[i].fits.size(); ++j, ++r) {
      p.replace(
          mid.rows[r].first,
          measured_row(mid.rows[r].second, lo.rows[r].second, hi.rows[r].second,
                       how + "fitted: the model's " + ops[i].label +
                           " (native policy) made equal to the " + fmt(m.ops[i].median / 1000.0) +
                           " us measured here" +
                           (ops[i].fits.size() > 1 ? ", the rows' ratio kept from the base" : "")));
    }
  }
  p.rename("calibrated", "this machine (" + this_machine() +
                             "): rows marked M measured or "
                             "fitted here by pibooster "
                             "calibrate, the others from " +
                             base_name);
  return p;
}

// The validation table; true when every predicted operation is within the target.
bool print_check(std::ostream& out, const cost::CostProfile& p, const Measurements& m,
                 const std::vector<ModelOp>& model, int rounds) {
  constexpr double kTarget = 15.0;
  const auto& ops = check_ops();
  out << "native timing check: the native policy on profile '" << p.name()
      << "' against real operations on " << this_machine() << " (median of " << rounds
      << " rounds)\n";
  out << "operation                  measured us (range)          model us   error     role\n";
  std::size_t predicted = 0, within = 0;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const double meas = m.ops[i].median, pred = model[i].ns(p);
    const double err = (pred / meas - 1.0) * 100.0;
    std::string role = "predicted";
    if (!ops[i].fits.empty()) {
      role = "fit (";
      for (std::size_t j = 0; j < ops[i].fits.size(); ++j)
        role += (j ? ", " : "") + std::string(sim::event_name(ops[i].fits[j]));
      role += ")";
    } else {
      ++predicted;
      if (std::abs(err) <= kTarget) ++within;
    }
    std::string label = ops[i].label;
    label.resize(27, ' ');
    std::string range = fmt(meas / 1000.0, "%.1f") + " (" + fmt(m.ops[i].low / 1000.0, "%.1f") +
                        "-" + fmt(m.ops[i].high / 1000.0, "%.1f") + ")";
    range.resize(29, ' ');
    std::string model_us = fmt(pred / 1000.0, "%.1f");
    model_us.resize(11, ' ');
    // A fitted row's error is zero up to rounding: print it as +0.0, never as -0.0.
    std::string e = fmt(std::abs(err) < 0.05 ? 0.0 : err, "%+.1f %%");
    e.resize(10, ' ');
    out << label << range << model_us << e << role << "\n";
  }
  const bool met = within == predicted;
  out << "target: predicted within +-15 %: " << within << " of " << predicted << " -> "
      << (met ? "MET" : "NOT MET") << "\n";
  if (!met) {
    out << "  (not tuned to meet it: the predicted operations are not used by the fit; the gap "
           "is what the model's native paths and the carried rows miss on this machine)\n";
  }
  return met;
}

}  // namespace

int cmd_calibrate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const CalibrateArgs a = parse(args);
  const std::string probe = find_probe(a.probe);
  const std::vector<ModelOp> model = model_ops();
  const Measurements m = measure(probe, a.rounds);
  std::string warnings;
  const cost::CostProfile p = a.check_profile.empty() ? calibrated(a.base, m, model, warnings)
                                                      : cost::find_profile(a.check_profile);
  err << warnings;
  if (a.check) return print_check(out, p, m, model, a.rounds) ? 0 : 1;
  const std::string text = "# Calibrated on " + this_machine() +
                           " by pibooster calibrate (base profile " + a.base + ").\n" + p.to_toml();
  if (a.out_file.empty()) {
    out << text;
  } else {
    write_file_nofollow(a.out_file, text);
    err << "wrote " << a.out_file << " (zero page " << fmt(m.zero.median) << " ns, copy page "
        << fmt(m.copy.median) << " ns, syscall " << fmt(m.syscall.median) << " ns, fork+exit "
        << fmt(m.ops.front().median / 1000.0) << " us here)\n";
  }
  return 0;
}

}  // namespace pib::app
