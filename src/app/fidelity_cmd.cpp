// SPDX-License-Identifier: MIT
#include "app/fidelity_cmd.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <ostream>

#include "app/args.hpp"
#include "common/error.hpp"
#include "fidelity/fidelity.hpp"
#include "snapshot/snapshot.hpp"

namespace pib::app {

const char* const kFidelityHelp =
    R"(usage: pibooster fidelity [--data DIR] [--iterations N] [--trace MODE]

Runs the model on the ground truth's process snapshots and operations (default: the project's
copy in data/groundtruth/xen-4.17-linux-6.1), under Xen 4.17 (modern) and Linux 6.x paths,
1 vCPU, with address-space randomisation as the traced run had it (the figures over 8 seeded
layouts), and prints each traced per-operation figure, model vs real, with the deviation: the
hypercall counts (no IOMMU) and the VT-d invalidations (Xen's strict dom0 IOMMU, caching mode
off and on, randomisation off and on); also the page-table pages below the pgd against the snapshot's VmPTE. Exit status 1
when a figure is outside the tolerance (±5 %, or ±1 for figures below 20).
--trace MODE prints the model's hypercalls (and trapped faults) of that mode's last iteration
(fork_exit, heap64 or mmap_touch) before the table.
)";

const char* const kSnapshotHelp = R"(usage: pibooster snapshot PID [-o FILE]

Captures a live process's user address space — /proc/PID/maps, the present pages of
/proc/PID/pagemap as runs, and VmPTE — as JSON in the ground-truth snapshot format.
)";

int cmd_fidelity(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  constexpr uint64_t kMaxIterations = 1000;
  std::string dir = fidelity::default_data_dir();
  uint64_t iterations = 20;
  std::string trace_mode;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] != "--data" && args[i] != "--iterations" && args[i] != "--trace") {
      throw InputError("unknown flag '" + args[i] + "' (see pibooster fidelity --help)");
    }
    if (i + 1 >= args.size()) throw InputError(args[i] + " needs a value (see --help)");
    if (args[i] == "--data") {
      dir = args[++i];
    } else if (args[i] == "--iterations") {
      iterations = parse_u64(args[i], args[i + 1]);
      ++i;
      // Each iteration runs once per layout, mode and IOMMU setting: a cap keeps a typo from
      // becoming an hours-long run.
      if (iterations == 0 || iterations > kMaxIterations) {
        throw InputError("--iterations must be 1 to " + std::to_string(kMaxIterations) + ", got " +
                         args[i]);
      }
    } else if (args[i] == "--trace") {
      trace_mode = args[++i];
      if (trace_mode != "fork_exit" && trace_mode != "heap64" && trace_mode != "mmap_touch")
        throw InputError("--trace: unknown mode '" + trace_mode +
                         "' (valid: fork_exit, heap64, mmap_touch)");
    }
  }
  const auto results = fidelity::run(dir, iterations, trace_mode, &out);
  int outside = 0;
  out << "fidelity: model (Xen modern = 4.15-4.17, Linux 6.x paths, 1 vCPU; " << fidelity::kLayouts
      << " randomised layouts; hypercalls without an IOMMU, VT-d invalidations with Xen's strict "
         "dom0 IOMMU) vs "
      << dir << "\n";
  out << "clock: the " << fidelity::kClockProfile
      << " profile, stretched per mode so that an operation takes as many of the guest's "
      << fidelity::kTracedHz << " Hz ticks as traced (vcpu_op); xentrace polls every "
      << fidelity::kTracerPollNs / 1'000'000 << " ms\n";
  for (const auto& m : results) {
    out << "\n" << m.mode << " (" << m.operation << "), per operation\n";
    if (m.clock_scale > 0) {
      char clock[160];
      std::snprintf(
          clock, sizeof clock,
          "  traced machine: %.2f ticks = %.1f ms per operation, %.1fx the profile's time\n",
          m.ticks_per_op, m.traced_op_ms, m.clock_scale);
      out << clock;
    }
    out << "  " << std::left << std::setw(40) << "figure" << std::right << std::setw(10) << "real"
        << std::setw(16) << "model" << std::setw(10) << "dev"
        << "\n";
    for (const auto& f : m.figures) {
      // The deviation of the layout closest to the real figure.
      const double closest = std::clamp(f.real, f.model_min, f.model_max);
      char dev[32];
      if (f.real >= 20) {
        std::snprintf(dev, sizeof dev, "%+.1f%%", (closest - f.real) / f.real * 100);
      } else {
        std::snprintf(dev, sizeof dev, "%+.2f", closest - f.real);
      }
      char real[32], model[48];
      std::snprintf(real, sizeof real, "%.2f", f.real);
      if (f.model_min == f.model_max) {
        std::snprintf(model, sizeof model, "%.2f", f.model);
      } else {
        std::snprintf(model, sizeof model, "%.2f-%.2f", f.model_min, f.model_max);
      }
      out << "  " << std::left << std::setw(40) << f.name << std::right << std::setw(10) << real
          << std::setw(16) << model << std::setw(10) << dev << (f.within ? "  ok" : "  OUT")
          << (f.input ? "  (input)" : "") << "\n";
      if (!f.within) {
        ++outside;
        out << "      missing: " << f.missing_mechanism << "\n";
      }
    }
    if (!m.footprint) continue;
    const bool fp = m.vmpte_pages_model == m.vmpte_pages_real;
    out << "  " << std::left << std::setw(40) << "page-table pages below pgd (VmPTE)" << std::right
        << std::setw(10) << m.vmpte_pages_real << std::setw(10) << m.vmpte_pages_model
        << std::setw(10) << "" << (fp ? "  ok" : "  OUT") << "\n";
    if (!fp) ++outside;
  }
  out << "\n"
      << (outside == 0
              ? "all figures within tolerance"
              : std::to_string(outside) + " figure(s) outside tolerance (docs/fidelity.md)")
      << "\n";
  (void)err;
  return outside == 0 ? 0 : 1;
}

int cmd_snapshot(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() != 2 && !(args.size() == 4 && args[2] == "-o")) {
    err << kSnapshotHelp;
    return 2;
  }
  int pid = 0;
  try {
    pid = std::stoi(args[1]);
  } catch (const std::exception&) {
    throw InputError("snapshot: '" + args[1] + "' is not a process id");
  }
  if (pid <= 0) throw InputError("snapshot: '" + args[1] + "' is not a process id");
  const snapshot::Snapshot s = snapshot::capture(pid);
  const std::string json = snapshot::to_json(s);
  if (args.size() == 4) {
    std::ofstream f(args[3]);
    if (!f) throw InputError("cannot write '" + args[3] + "'");
    f << json;
  } else {
    out << json;
  }
  return 0;
}

}  // namespace pib::app
