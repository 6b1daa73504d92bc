// SPDX-License-Identifier: MIT
#include "app/calibration.hpp"

#include <algorithm>
#include <cmath>

#include "common/error.hpp"
#include "cost/cost_model.hpp"
#include "scenario/runner.hpp"

namespace pib::app {

namespace {

using sim::Event;

// A model run of `op`: the native policy, one vCPU, no IOMMU, Linux 6 paths, memory for its
// largest area.
ModelOp model_op(const CheckOp& op) {
  scenario::Scenario sc;
  sc.name = "calibrate-check";
  sc.origin = "pibooster calibrate";
  sc.iterations = 5;
  sc.warmup = 2;
  sc.policies = {"native"};
  sc.workload.name = op.workload;
  sc.set("machine.memory_mib", op.mib >= 64 ? "1024" : "128", "pibooster calibrate");
  for (const auto& [k, v] : op.params) sc.workload.params.set(k, v);
  const scenario::RunOutput run =
      scenario::run_scenario(sc, cost::find_profile("paper-era-server"));
  const scenario::PolicyResult& r = run.results.front();
  ModelOp m;
  for (const auto& e : sim::kEventTable) m.counts.push_back(r.mean_count(e.event));
  return m;
}

}  // namespace

const std::vector<CheckOp>& check_ops() {
  // The fork and exit rows share one measurement (fork+exit): their ratio stays the source
  // profile's. Likewise the per-PTE rows of fork and of exit (fork of a 64 MiB heap).
  static const std::vector<CheckOp> ops = {
      {"fork+exit", "fork", 200, 0, "lat_proc.fork", {}, {Event::kGuestFork, Event::kGuestExit}},
      {"fork+exec", "exec", 100, 0, "lat_proc.exec", {}, {Event::kGuestExec}},
      {"fork, 64 MiB heap",
       "fork-heap",
       10,
       64,
       "lat_proc.fork",
       {{"parent_heap_pages", "16384"}},
       {Event::kGuestForkPtes, Event::kGuestZapPtes}},
      {"mmap+touch+munmap 64 MiB",
       "mmap-touch",
       2,
       64,
       "mem.mmap_touch",
       {{"pages", "16384"}},
       {Event::kGuestFault}},
      {"vfork+exec", "vfork-exec", 100, 0, "lat_proc.vfork_exec", {}, {}},
      {"fork, 256 MiB heap",
       "fork-heap",
       4,
       256,
       "lat_proc.fork",
       {{"parent_heap_pages", "65536"}},
       {}},
      {"mmap+touch+munmap 2 MiB", "mmap-touch", 50, 2, "mem.mmap_touch", {{"pages", "512"}}, {}},
  };
  return ops;
}

std::vector<Measured> measure_ops(const std::string& probe, int rounds) {
  std::vector<Measured> out;
  for (const CheckOp& op : check_ops())
    out.push_back(run_probe(probe, op.mode, rounds, op.n, op.mib));
  return out;
}

double ModelOp::ns(const cost::CostProfile& p) const {
  double t = 0;
  for (std::size_t e = 0; e < counts.size(); ++e) t += counts[e] * p.ns(static_cast<Event>(e));
  return t;
}

std::vector<ModelOp> model_ops() {
  std::vector<ModelOp> out;
  for (const CheckOp& op : check_ops()) out.push_back(model_op(op));
  return out;
}

Fit fit_rows(const cost::CostProfile& profile, const std::vector<ModelOp>& model,
             const std::vector<double>& measured_ns) {
  const auto& ops = check_ops();
  std::vector<double> ns(sim::kEventCount);
  for (std::size_t e = 0; e < ns.size(); ++e) ns[e] = profile.ns(static_cast<Event>(e));
  const std::vector<double> base = ns;  // the ratios within one operation's rows
  std::vector<bool> clamped(ops.size(), false);
  // Each fitted row moves the others' operations a little (a fork's faults, an exit's zaps):
  // solved by turns until nothing moves (the system is linear and each row dominates its own
  // operation, so a few rounds settle it).
  for (int round = 0; round < 50; ++round) {
    double moved = 0;
    for (std::size_t i = 0; i < ops.size(); ++i) {
      if (ops[i].fits.empty()) continue;
      double others = 0, own = 0;
      for (std::size_t e = 0; e < ns.size(); ++e) {
        const bool fitted = std::find(ops[i].fits.begin(), ops[i].fits.end(),
                                      static_cast<Event>(e)) != ops[i].fits.end();
        (fitted ? own : others) += model[i].counts[e] * (fitted ? base[e] : ns[e]);
      }
      if (own <= 0) model_bug("calibrate: " + ops[i].label + " does not use the rows it fits");
      double k = (measured_ns[i] - others) / own;
      clamped[i] = k < 0;
      k = std::max(k, 0.0);
      for (const Event e : ops[i].fits) {
        const auto idx = static_cast<std::size_t>(e);
        moved = std::max(moved, std::abs(k * base[idx] - ns[idx]));
        ns[idx] = k * base[idx];
      }
    }
    if (moved < 1e-6) break;
  }
  Fit f;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    for (const Event e : ops[i].fits) {
      f.rows.emplace_back(e, ns[static_cast<std::size_t>(e)]);
      if (clamped[i]) f.negative.emplace_back(sim::event_name(e));
    }
  }
  return f;
}

}  // namespace pib::app
