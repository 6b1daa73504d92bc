// SPDX-License-Identifier: MIT
#include "fidelity/fidelity.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "snapshot/snapshot.hpp"
#include "workload/snapshot_process.hpp"

#ifndef PIBOOSTER_SOURCE_DIR
#define PIBOOSTER_SOURCE_DIR "."
#endif

namespace pib::fidelity {

namespace {

using sim::Event;
using Counts = workload::Counts;

double per_op(const Counts& c, Event e, uint64_t n) {
  return static_cast<double>(c[static_cast<std::size_t>(e)]) / static_cast<double>(n);
}

// The model's value of each traced figure, from its counters.
std::map<std::string, double> model_figures(const Counts& c, uint64_t n) {
  auto f = [&](Event e) { return per_op(c, e, n); };
  std::map<std::string, double> m;
  m["mmu_update (direct)"] = f(Event::kXenHcMmuUpdate) - f(Event::kXenMcSubMmuUpdate);
  m["mmu_update entries (direct)"] =
      f(Event::kXenMmuUpdateRequests) - f(Event::kXenMcMmuUpdateRequests);
  m["mmuext_op (direct)"] = f(Event::kXenHcMmuextOp) - f(Event::kXenMcSubMmuextOp);
  m["mmuext_op (in multicall)"] = f(Event::kXenMcSubMmuextOp);
  m["mmuext_op entries (direct)"] = f(Event::kXenMmuextOps) - f(Event::kXenMcMmuextOps);
  m["mmuext_op entries (in multicall)"] = f(Event::kXenMcMmuextOps);
  m["multicall (direct)"] = f(Event::kXenHcMulticall);
  m["multicall entries (direct)"] = f(Event::kXenMulticallEntries);
  m["update_va_mapping (in multicall)"] = f(Event::kXenMcSubUpdateVaMapping);
  m["update_va_mapping (direct)"] =
      f(Event::kXenHcUpdateVaMapping) - f(Event::kXenMcSubUpdateVaMapping);
  m["pv_ptwr_emulation"] = f(Event::kXenPtwrEmulated);
  m["pv_page_fault"] = f(Event::kXenFaultBounced);
  m["EV xen_mmu_alloc_ptpage"] =
      f(Event::kGuestPtAllocL1) + f(Event::kGuestPtAllocL2) + f(Event::kGuestPtAllocL3);
  m["EV xen_mmu_release_ptpage"] =
      f(Event::kGuestPtFreeL1) + f(Event::kGuestPtFreeL2) + f(Event::kGuestPtFreeL3);
  m["EV xen_mmu_pgd_pin"] = f(Event::kGuestPgdPin);
  m["EV xen_mmu_pgd_unpin"] = f(Event::kGuestPgdUnpin);
  return m;
}

// Why a figure of a mode differs, where the reason is known: printed when it is off. Each of
// these is decided by the traced emulator's timing (docs/fidelity.md).
const std::map<std::pair<std::string, std::string>, std::string>& known_gaps() {
  static const std::string preempted =
      "preempted multicalls: Xen re-enters a multicall it preempted (a timer or event pending) "
      "through a continuation, which the trace counts as one more multicall carrying the "
      "entries left (about half a batch per extra multicall here); how often depends on the "
      "traced emulator's speed, which the ground truth does not give, and the model's Xen does "
      "not preempt on time";
  static const std::string other_process =
      "switches to other dom0 processes (the tracer) during the long operation, each a "
      "NEW_BASEPTR + NEW_USER_BASEPTR pair; they depend on the emulator's run time";
  static const std::map<std::pair<std::string, std::string>, std::string> gaps = {
      {{"fork_exit", "multicall entries (direct)"}, preempted},
      {{"heap64", "multicall (direct)"}, preempted},
      {{"heap64", "multicall entries (direct)"}, preempted},
      {{"mmap_touch", "mmuext_op (direct)"}, other_process},
      {{"mmap_touch", "mmuext_op entries (direct)"}, other_process},
  };
  return gaps;
}

nlohmann::json load_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError("cannot open ground truth '" + path + "'");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(path + ": not valid JSON (" + e.what() + ")");
  }
}

}  // namespace

bool within_tolerance(double real, double model) {
  if (real < 20) return std::fabs(model - real) <= 1.0;
  return std::fabs(model - real) <= 0.05 * real;
}

std::string default_data_dir() {
  std::string rel = "data/groundtruth/xen-4.17-linux-6.1";
  if (std::filesystem::exists(rel + "/counts.json")) return rel;
  return std::string(PIBOOSTER_SOURCE_DIR) + "/" + rel;
}

namespace {

struct Mode {
  const char* name;
  const char* snapshot;
  const char* op;
};
constexpr Mode kModes[] = {{"fork_exit", "snapshot-fork_exit.json", "fork_exit"},
                           {"heap64", "snapshot-heap64.json", "fork_exit"},
                           {"mmap_touch", "snapshot-fork_exit.json", "mmap_touch"}};

system::GuestSystemConfig base_config(const snapshot::Snapshot& snap) {
  system::GuestSystemConfig cfg;
  cfg.guest_pages = uint64_t{128} * 256;  // 128 MiB beside the snapshot's own memory
  for (const auto& r : snap.page_runs) cfg.guest_pages += r.pages;
  cfg.xen_generation = xen::XenGeneration::kModern;
  cfg.linux_generation = guest::LinuxGeneration::kLinux6;
  return cfg;
}

using FigureValues = std::map<std::string, std::vector<double>>;

// Runs `mode` once per layout (seeds 1..layouts; one unrandomised layout when `randomize` is
// 0) and collects each figure `figures_of` computes from the per-run counters.
template <typename FiguresOf>
FigureValues over_layouts(const Mode& mode, const snapshot::Snapshot& snap,
                          system::GuestSystemConfig cfg, int randomize, uint64_t iterations,
                          FiguresOf figures_of, std::string* operation, std::ostream* trace) {
  FigureValues by_figure;
  const uint64_t layouts = randomize == 0 ? 1 : kLayouts;
  for (uint64_t seed = 1; seed <= layouts; ++seed) {
    cfg.randomize_va_space = randomize;
    cfg.seed = seed;
    system::GuestSystem sys(cfg);
    workload::SnapshotWorkload w(snap, workload::snapshot_op_by_name(mode.op),
                                 workload::SnapshotPlacement::kByModelKernel);
    const auto r = workload::run(sys, w, mode.name, iterations, 2, seed == 1 ? trace : nullptr);
    if (operation != nullptr) *operation = r.operation;
    for (const auto& [name, value] : figures_of(r.total, iterations))
      by_figure[name].push_back(value);
  }
  return by_figure;
}

void compare(ModeResult& m, const FigureValues& by_figure,
             const std::map<std::string, double>& real) {
  for (const auto& [name, values] : by_figure) {
    auto it = real.find(name);
    if (it == real.end()) continue;  // not traced in this mode
    Figure f;
    f.name = name;
    f.real = it->second;
    f.model_min = *std::min_element(values.begin(), values.end());
    f.model_max = *std::max_element(values.begin(), values.end());
    for (const double v : values) f.model += v / static_cast<double>(values.size());
    f.within = within_tolerance(f.real, std::clamp(f.real, f.model_min, f.model_max));
    if (!f.within) {
      auto g = known_gaps().find({m.mode, name});
      f.missing_mechanism = g != known_gaps().end() ? g->second : "not yet explained";
      f.traced_timing = g != known_gaps().end();
    }
    m.figures.push_back(f);
  }
}

// The VT-d invalidation descriptors of one run, by the ground truth's names.
std::map<std::string, double> iommu_figures(const Counts& c, uint64_t n, const char* cm) {
  auto f = [&](Event e) { return per_op(c, e, n); };
  const std::string suffix = std::string(", ") + cm;
  std::map<std::string, double> m;
  m["IOTLB inv total" + suffix] =
      f(Event::kHwIotlbInvPage) + f(Event::kHwIotlbInvDomain) + f(Event::kHwIotlbInvGlobal);
  m["IOTLB PSI 4K (am=0)" + suffix] = f(Event::kHwIotlbInvPage);
  m["IOTLB DSI" + suffix] = f(Event::kHwIotlbInvDomain);
  m["IOTLB global" + suffix] = f(Event::kHwIotlbInvGlobal);
  m["wait" + suffix] = f(Event::kHwIommuInvWait);
  return m;
}

// The IOMMU ground truth: the same operations with dom0's page-table type changes reaching a
// VT-d unit (Xen's strict dom0 IOMMU mode: sync here), caching mode off and on, with and
// without address-space randomisation.
void run_iommu(const std::string& dir, uint64_t iterations, std::vector<ModeResult>& out) {
  const std::string path = dir + "/iommu-counts.json";
  if (!std::filesystem::exists(path)) return;
  const nlohmann::json counts = load_json(path);
  for (const char* aslr : {"aslr_off", "aslr_on"}) {
    if (!counts.contains(aslr)) continue;
    for (const Mode& mode : kModes) {
      if (!counts[aslr].contains(mode.name)) continue;
      const snapshot::Snapshot snap = snapshot::load(dir + "/" + mode.snapshot);
      ModeResult m;
      m.mode = std::string(mode.name) + ", IOMMU, " +
               (aslr == std::string("aslr_on") ? "ASLR on" : "ASLR off");
      const int randomize = aslr == std::string("aslr_on") ? 2 : 0;
      FigureValues all;
      for (const char* cm : {"caching_mode_off", "caching_mode_on"}) {
        system::GuestSystemConfig cfg = base_config(snap);
        cfg.iommu = xen::IommuMode::kSync;
        cfg.iommu_params.caching_mode = cm == std::string("caching_mode_on");
        const FigureValues v = over_layouts(
            mode, snap, cfg, randomize, iterations,
            [cm](const Counts& c, uint64_t n) { return iommu_figures(c, n, cm); }, &m.operation,
            nullptr);
        all.insert(v.begin(), v.end());
      }
      m.layouts = randomize == 0 ? 1 : kLayouts;
      std::map<std::string, double> real;
      for (const auto& [figure, by_cm] : counts[aslr][mode.name].items()) {
        for (const auto& [cm, value] : by_cm.items()) {
          if (cm != "no_iommu") real[figure + ", " + cm] = value.get<double>();
        }
      }
      compare(m, all, real);
      out.push_back(std::move(m));
    }
  }
}

}  // namespace

std::vector<ModeResult> run(const std::string& dir, uint64_t iterations,
                            const std::string& trace_mode, std::ostream* trace) {
  const nlohmann::json counts = load_json(dir + "/counts.json");
  std::vector<ModeResult> out;
  for (const Mode& mode : kModes) {
    if (!counts.contains(mode.name)) continue;
    const snapshot::Snapshot snap = snapshot::load(dir + "/" + mode.snapshot);
    const system::GuestSystemConfig cfg = base_config(snap);
    ModeResult m;
    m.mode = mode.name;
    m.footprint = true;
    m.vmpte_pages_real = snap.vmpte_pages();
    {
      // The footprint: the process exactly as captured.
      system::GuestSystemConfig as_captured = cfg;
      as_captured.randomize_va_space = 0;
      system::GuestSystem sys(as_captured);
      const guest::Pid pid = workload::build_snapshot_process(sys, snap);
      m.vmpte_pages_model = sys.kernel().mm(pid).pt_pages_below_pgd();
    }
    // The counts: the traced run's layout was randomised, so take them over several layouts.
    const FigureValues by_figure =
        over_layouts(mode, snap, cfg, 2, iterations, model_figures, &m.operation,
                     trace_mode == mode.name ? trace : nullptr);
    m.layouts = kLayouts;
    std::map<std::string, double> real;
    for (const auto& [k, v] : counts[mode.name]["xen"]["per_op"].items()) real[k] = v.get<double>();
    for (const auto& [k, v] : counts[mode.name]["linux"]["per_op"].items()) {
      if (k.rfind("EV xen_mmu_alloc", 0) == 0 || k.rfind("EV xen_mmu_release", 0) == 0 ||
          k.rfind("EV xen_mmu_pgd", 0) == 0) {
        real[k] = v.get<double>();
      }
    }
    compare(m, by_figure, real);
    out.push_back(std::move(m));
  }
  run_iommu(dir, iterations, out);
  return out;
}

}  // namespace pib::fidelity
