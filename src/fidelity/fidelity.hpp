// SPDX-License-Identifier: MIT
// Fidelity against a real system: run the model on the ground truth's process snapshots and
// operations, under the matching generation (Xen 4.17 = modern, Linux 6.1 paths, 1 vCPU, no
// IOMMU, randomize_va_space = 2), and compare every traced per-operation figure. Tolerance:
// ±5 %, or ±1 for figures below 20. A figure the model cannot match carries the name of the
// real mechanism it lacks.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace pib::fidelity {

struct Figure {
  std::string name;
  double real = 0;
  double model = 0;      // mean over the randomised layouts
  double model_min = 0;  // the range over them: the real run drew one layout
  double model_max = 0;
  bool within = false;            // some layout's figure is within tolerance of the real one
  std::string missing_mechanism;  // when known: why the model differs
  // The difference comes from the traced machine's timing (an emulator's, not given), not from
  // anything the model could count.
  bool traced_timing = false;
};

struct ModeResult {
  std::string mode;       // fork_exit, heap64, mmap_touch
  std::string operation;  // what one op is
  std::vector<Figure> figures;
  bool footprint = false;          // the VmPTE comparison below applies
  uint64_t vmpte_pages_real = 0;   // from the snapshot
  uint64_t vmpte_pages_model = 0;  // the model process's tables below the pgd, as captured
  uint64_t layouts = 0;            // randomised layouts the figures were taken over
};

// The traced system ran with address-space randomisation, so each real figure comes from one
// random layout of the process; the model runs the operation under this many layouts (seeds
// 1..N) and accepts a figure when it is within tolerance of the model's range.
inline constexpr uint64_t kLayouts = 8;

bool within_tolerance(double real, double model);
// With `trace_mode` named, the hypercalls of that mode's last iteration go to `trace`.
std::vector<ModeResult> run(const std::string& data_dir, uint64_t iterations,
                            const std::string& trace_mode = "", std::ostream* trace = nullptr);
// Where the ground truth is: the project's copy (found from the working directory or the
// source tree this binary was built from).
std::string default_data_dir();

}  // namespace pib::fidelity
