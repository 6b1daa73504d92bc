// SPDX-License-Identifier: MIT
// Workload drivers: programs written against the guest kernel's system calls, run for a number
// of iterations, each iteration measured as one operation (the ledger's counts before and after).
// lmbench lat_proc-style (fork+exit, fork+execve, fork+execve of sh -c) and UnixBench-style
// (spawn, execl, shell scripts with N concurrent copies).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sim/events.hpp"
#include "system/guest_system.hpp"

namespace pib::workload {

using Counts = std::array<uint64_t, sim::kEventCount>;

// Named parameters; every workload declares the keys it knows and rejects the rest.
class Params {
 public:
  Params() = default;
  explicit Params(std::map<std::string, std::string> values) : values_(std::move(values)) {}
  void set(const std::string& key, const std::string& value) { values_[key] = value; }
  // A non-negative integer no larger than `max` (every parameter is a count or a size: the
  // default bound keeps a typo from wrapping a size computation or looping for hours).
  // InputError naming the key, the value and the limit otherwise.
  static constexpr uint64_t kMaxValue = 1'000'000;
  uint64_t u64(const std::string& key, uint64_t fallback, uint64_t max = kMaxValue) const;
  std::string str(const std::string& key, const std::string& fallback) const;
  // InputError naming the unknown key and the valid ones.
  void check_known(const std::string& workload, const std::vector<std::string>& known) const;
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

class Workload {
 public:
  virtual ~Workload() = default;
  virtual std::string operation() const = 0;  // what one iteration is, e.g. "fork+exit"
  virtual void setup(system::GuestSystem& sys) = 0;
  virtual void iteration(system::GuestSystem& sys) = 0;
  // Workloads that draw random numbers take the scenario's seed before setup.
  virtual void set_seed(uint64_t seed) { (void)seed; }
  // Called by workloads at the point of an iteration where the most guest state is alive (e.g.
  // all children forked, none exited yet): host-memory measurement samples there.
  void set_peak_probe(std::function<void(system::GuestSystem&)> probe) {
    peak_probe_ = std::move(probe);
  }

 protected:
  void at_peak(system::GuestSystem& sys) {
    if (peak_probe_) peak_probe_(sys);
  }

 private:
  std::function<void(system::GuestSystem&)> peak_probe_;
};

// One parameter's documentation: default (as text: some depend on the workload), unit, meaning.
struct ParamDoc {
  std::string_view key;
  std::string_view fallback;
  std::string_view unit;
  std::string_view meaning;
};
// nullptr when `key` is no workload's parameter.
const ParamDoc* param_doc(std::string_view key);

struct WorkloadInfo {
  std::string name;
  std::string description;
  std::vector<std::string> keys;  // parameters it accepts
  bool nic = false;               // needs a NIC attached
  bool disk = false;              // needs a block device attached
  bool save_restore = false;      // needs room on the machine for a copy of the domain
};
// The catalog entry of a workload (InputError naming the valid ones when unknown).
WorkloadInfo workload_info(const std::string& name);

std::vector<WorkloadInfo> workload_catalog();
std::unique_ptr<Workload> make_workload(const std::string& name, const Params& params);

struct RunResult {
  std::string workload;
  std::string operation;
  std::vector<Counts> samples;  // one per measured iteration
  Counts total{};
  uint64_t mean_x100(sim::Event e) const;  // mean per operation × 100 (integer, deterministic)
};

// Runs `warmup` unmeasured and `iterations` measured iterations; with `trace`, the hypercalls
// of the last measured iteration are printed there (Xen systems).
RunResult run(system::GuestSystem& sys, Workload& w, const std::string& name, uint64_t iterations,
              uint64_t warmup, std::ostream* trace = nullptr);

}  // namespace pib::workload
