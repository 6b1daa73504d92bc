// SPDX-License-Identifier: MIT
#include "fidelity/fidelity.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/text_file.hpp"
#include "cost/cost_model.hpp"
#include "cost/cost_profile.hpp"
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
  m["mmu_update entries (direct)"] += f(Event::kXenMmuUpdateRequeued);
  m["mmuext_op entries (direct)"] += f(Event::kXenMmuextRequeued);
  m["multicall (direct)"] = f(Event::kXenHcMulticall);
  // The count each multicall entry (first or continuation) announced.
  m["multicall entries (direct)"] =
      f(Event::kXenMulticallEntries) + f(Event::kXenMulticallRequeued);
  m["vcpu_op (direct)"] = f(Event::kXenHcVcpuOp);
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

nlohmann::json load_json(const std::string& path) {
  const std::string text = read_text_file(path, "ground truth");
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(path + ": not valid JSON (" + e.what() + ")");
  }
}

// The ground truth's documented shape (data/groundtruth/*/README.md), checked before any value
// is used: a wrong type is an InputError naming the file and the JSON path to the value.
std::string json_path(const std::string& where, const std::string& key) {
  return where.empty() ? key : where + "." + key;
}
void require_object(const nlohmann::json& j, const std::string& file, const std::string& where) {
  if (!j.is_object()) {
    throw InputError(file + ": " + (where.empty() ? "the top level" : where) +
                     " must be an object, not " + j.type_name());
  }
}
const nlohmann::json& object_at(const nlohmann::json& j, const std::string& key,
                                const std::string& file, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end()) throw InputError(file + ": " + json_path(where, key) + " is missing");
  require_object(*it, file, json_path(where, key));
  return *it;
}
// A traced per-operation figure: a finite number of magnitude at most kMaxFigure (a difference
// of two counts, so it may be slightly negative).
constexpr double kMaxFigure = 1e9;
double figure_value(const nlohmann::json& v, const std::string& file, const std::string& where) {
  if (!v.is_number()) {
    throw InputError(file + ": " + where + " must be a number, not " + v.type_name());
  }
  const double d = v.get<double>();
  if (!std::isfinite(d) || std::fabs(d) > kMaxFigure) {
    throw InputError(file + ": " + where + " must be a number from -1e9 to 1e9, got " + v.dump());
  }
  return d;
}
// Every key of `j` is a mode, one of `extra`, or an error naming the valid keys; at least one
// mode must be there, or nothing would be compared.
void check_keys(const nlohmann::json& j, const std::vector<const char*>& modes,
                std::initializer_list<const char*> extra, const std::string& file,
                const std::string& where) {
  std::string valid;
  for (const char* k : modes) valid += (valid.empty() ? "" : ", ") + std::string(k);
  for (const char* k : extra) valid += ", " + std::string(k);
  bool any_mode = false;
  for (const auto& [k, v] : j.items()) {
    const bool is_mode =
        std::any_of(modes.begin(), modes.end(), [&](const char* m) { return k == m; });
    const bool is_extra =
        std::any_of(extra.begin(), extra.end(), [&](const char* m) { return k == m; });
    if (!is_mode && !is_extra) {
      throw InputError(file + ": unknown key '" + json_path(where, k) + "' (valid: " + valid + ")");
    }
    any_mode = any_mode || is_mode;
  }
  if (!any_mode) {
    throw InputError(file + ": " + (where.empty() ? "the top level" : where) + " names none of " +
                     valid.substr(0, valid.find(", method")) + ": nothing to compare");
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

// A traced mode: its name in the ground truth, the snapshot of the process it ran in, the
// operation, and whether the traced kernel randomised the layout (the "@norandmaps" boots did
// not: one layout, the unrandomised one).
struct Mode {
  const char* name;
  const char* snapshot;
  const char* op;
  int randomize = 2;
};
constexpr Mode kModes[] = {
    {"fork_exit", "snapshot-fork_exit.json", "fork_exit"},
    {"heap64", "snapshot-heap64.json", "fork_exit"},
    {"mmap_touch", "snapshot-fork_exit.json", "mmap_touch"},
    {"brk_cycle", "snapshot-brk_cycle.json", "brk_cycle"},
    {"mprotect_cycle", "snapshot-mprotect_cycle.json", "mprotect_cycle"},
    {"munmap_partial", "snapshot-munmap_partial.json", "munmap_partial"},
    {"brk_cycle@norandmaps", "snapshot-brk_cycle.json", "brk_cycle", 0},
    {"mprotect_cycle@norandmaps", "snapshot-mprotect_cycle.json", "mprotect_cycle", 0},
    {"munmap_partial@norandmaps", "snapshot-munmap_partial.json", "munmap_partial", 0},
};

std::vector<const char*> mode_names() {
  std::vector<const char*> names;
  for (const Mode& m : kModes) names.push_back(m.name);
  return names;
}

system::GuestSystemConfig base_config(const snapshot::Snapshot& snap) {
  system::GuestSystemConfig cfg;
  cfg.guest_pages = 128 * kPagesPerMiB;  // 128 MiB beside the snapshot's own memory
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

struct TracedClock {
  double scale = 0;  // traced time per unit of the clock profile's modeled time
  double op_ms = 0;  // one operation on the traced machine
  double ticks = 0;  // its ticks per operation
};

// One run of `mode` (first layout) with `cfg`: the per-operation counts.
Counts one_run(const Mode& mode, const snapshot::Snapshot& snap, system::GuestSystemConfig cfg,
               uint64_t iterations) {
  cfg.randomize_va_space = 2;
  cfg.seed = 1;
  system::GuestSystem sys(cfg);
  workload::SnapshotWorkload w(snap, workload::snapshot_op_by_name(mode.op),
                               workload::SnapshotPlacement::kByModelKernel);
  return workload::run(sys, w, mode.name, iterations, 2, nullptr).total;
}

// The traced machine's clock for `mode`: how much slower than the clock profile it ran the
// operation, found so that the model programs the guest's timer (vcpu_op) as often per
// operation as the trace shows. First guess: every vcpu_op a tick; then one correction for the
// timer's other users (the tracer's timeout), to which the count is proportional.
TracedClock traced_clock(const Mode& mode, const snapshot::Snapshot& snap,
                         const system::GuestSystemConfig& cfg, uint64_t iterations,
                         double real_vcpu_ops) {
  const cost::CostProfile profile = cost::find_profile(kClockProfile);
  const auto n = static_cast<double>(iterations);
  const double model_op_ns = cost::modeled_ns(one_run(mode, snap, cfg, iterations), profile) / n;
  if (!(model_op_ns > 0))
    throw InputError(std::string(mode.name) + ": the operation takes no time");
  TracedClock c;
  c.scale = real_vcpu_ops * 1e9 / kTracedHz / model_op_ns;
  system::GuestSystemConfig timed = cfg;
  timed.clock = cost::unit_costs(profile);
  timed.clock_scale = c.scale;
  timed.hz = kTracedHz;
  timed.poller_period_ns = kTracerPollNs;
  const double vcpu_ops =
      per_op(one_run(mode, snap, timed, iterations), Event::kXenHcVcpuOp, iterations);
  if (vcpu_ops > 0) c.scale *= real_vcpu_ops / vcpu_ops;
  c.op_ms = model_op_ns * c.scale / 1e6;
  c.ticks = c.op_ms * kTracedHz / 1e3;
  return c;
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
    f.input = name == "pv_page_fault" || name == "pv_ptwr_emulation" || name == "vcpu_op (direct)";
    if (!f.within)
      f.missing_mechanism = "not yet explained (docs/fidelity.md lists what is modelled)";
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

// The IOMMU ground truth (iommu-counts.json), checked against its shape: per randomisation
// ("aslr_off", "aslr_on") and mode, figure -> caching mode -> per-operation count.
using IommuTruth = std::map<std::string, std::map<std::string, std::map<std::string, double>>>;
IommuTruth load_iommu_truth(const std::string& path) {
  IommuTruth traced;
  if (!std::filesystem::exists(path)) return traced;
  const nlohmann::json counts = load_json(path);
  require_object(counts, path, "");
  check_keys(counts, std::vector<const char*>{"aslr_off", "aslr_on"}, {"method"}, path, "");
  for (const char* aslr : {"aslr_off", "aslr_on"}) {
    if (!counts.contains(aslr)) continue;
    const auto& a = object_at(counts, aslr, path, "");
    check_keys(a, mode_names(), {"method"}, path, aslr);
    for (const Mode& mode : kModes) {
      if (!a.contains(mode.name)) continue;
      const std::string where = json_path(aslr, mode.name);
      auto& figures = traced[aslr][mode.name];
      for (const auto& [figure, by_cm] : object_at(a, mode.name, path, aslr).items()) {
        require_object(by_cm, path, json_path(where, figure));
        for (const auto& [cm, value] : by_cm.items()) {
          if (cm == "no_iommu") continue;
          figures[figure + ", " + cm] =
              figure_value(value, path, json_path(json_path(where, figure), cm));
        }
      }
    }
  }
  return traced;
}

// The IOMMU ground truth: the same operations with dom0's page-table type changes reaching a
// VT-d unit (Xen's strict dom0 IOMMU mode: sync here), caching mode off and on, with and
// without address-space randomisation.
void run_iommu(const std::string& dir, const IommuTruth& truth, uint64_t iterations,
               std::vector<ModeResult>& out) {
  for (const char* aslr : {"aslr_off", "aslr_on"}) {
    const auto a = truth.find(aslr);
    if (a == truth.end()) continue;
    for (const Mode& mode : kModes) {
      const auto real = a->second.find(mode.name);
      if (real == a->second.end()) continue;
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
      compare(m, all, real->second);
      out.push_back(std::move(m));
    }
  }
}

}  // namespace

std::vector<ModeResult> run(const std::string& dir, uint64_t iterations,
                            const std::string& trace_mode, std::ostream* trace) {
  const std::string counts_file = dir + "/counts.json";
  const nlohmann::json counts = load_json(counts_file);
  require_object(counts, counts_file, "");
  check_keys(counts, mode_names(), {"method"}, counts_file, "");
  const IommuTruth iommu_truth = load_iommu_truth(dir + "/iommu-counts.json");
  // Each mode's traced figures, by side ("xen", "linux"), checked before anything runs.
  std::map<std::string, std::map<std::string, std::map<std::string, double>>> traced;
  for (const Mode& mode : kModes) {
    if (!counts.contains(mode.name)) continue;
    const auto& m = object_at(counts, mode.name, counts_file, "");
    for (const char* side : {"xen", "linux"}) {
      const std::string where = json_path(mode.name, side);
      const auto& per_op =
          object_at(object_at(m, side, counts_file, mode.name), "per_op", counts_file, where);
      auto& figures = traced[mode.name][side];
      for (const auto& [k, v] : per_op.items()) {
        figures[k] = figure_value(v, counts_file, json_path(where + ".per_op", k));
      }
    }
  }
  std::vector<ModeResult> out;
  for (const Mode& mode : kModes) {
    if (!counts.contains(mode.name)) continue;
    const auto& xen_real = traced[mode.name]["xen"];
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
    // The traced machine's clock, from its tick count per operation.
    system::GuestSystemConfig timed = cfg;
    if (xen_real.contains("vcpu_op (direct)")) {
      const TracedClock c =
          traced_clock(mode, snap, cfg, iterations, xen_real.at("vcpu_op (direct)"));
      m.ticks_per_op = c.ticks;
      m.traced_op_ms = c.op_ms;
      m.clock_scale = c.scale;
      timed.clock = cost::unit_costs(cost::find_profile(kClockProfile));
      timed.clock_scale = c.scale;
      timed.hz = kTracedHz;
      timed.poller_period_ns = kTracerPollNs;
    }
    // The counts: the traced run's layout was randomised, so take them over several layouts.
    const FigureValues by_figure =
        over_layouts(mode, snap, timed, mode.randomize, iterations, model_figures, &m.operation,
                     trace_mode == mode.name ? trace : nullptr);
    m.layouts = mode.randomize == 0 ? 1 : kLayouts;
    std::map<std::string, double> real;
    for (const auto& [k, v] : xen_real) real[k] = v;
    for (const auto& [k, v] : traced[mode.name]["linux"]) {
      if (k.rfind("EV xen_mmu_alloc", 0) == 0 || k.rfind("EV xen_mmu_release", 0) == 0 ||
          k.rfind("EV xen_mmu_pgd", 0) == 0) {
        real[k] = v;
      }
    }
    compare(m, by_figure, real);
    out.push_back(std::move(m));
  }
  run_iommu(dir, iommu_truth, iterations, out);
  return out;
}

}  // namespace pib::fidelity
