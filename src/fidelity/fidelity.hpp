// SPDX-License-Identifier: MIT
// Fidelity against a real system: run the model on the ground truth's process snapshots and
// operations, under the matching generation (Xen 4.17 = modern, Linux 6.1 paths, 1 vCPU, no
// IOMMU, randomize_va_space = 2), and compare every traced per-operation figure. Tolerance:
// ±5 %, or ±1 for figures below 20. The traced machine's timing (an emulator's) decides some
// figures, preempted hypercalls and switches to the tracer; the model runs those on a clock
// stretched to the trace's own tick count (see TracedClock in fidelity.cpp).
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
  std::string missing_mechanism;  // when off: what is known of why
  // An input of the model's run rather than a prediction: the fault and trapped-write figures
  // fix the program's description, the vcpu_op figure the traced machine's clock.
  bool input = false;
};

struct ModeResult {
  std::string mode;       // fork_exit, heap64, mmap_touch
  std::string operation;  // what one op is
  std::vector<Figure> figures;
  bool footprint = false;          // the VmPTE comparison below applies
  uint64_t vmpte_pages_real = 0;   // from the snapshot
  uint64_t vmpte_pages_model = 0;  // the model process's tables below the pgd, as captured
  uint64_t layouts = 0;            // randomised layouts the figures were taken over
  // The traced machine's clock (hypercall modes with a vcpu_op figure): the guest's timer ticks
  // per operation that figure gives, the operation's duration on that machine they imply, and
  // how many times slower than the model's clock profile that machine ran it. 0 when not run.
  double ticks_per_op = 0;
  double traced_op_ms = 0;
  double clock_scale = 0;
};

// The traced machine's timing, from its own trace: its Linux 6.1 kernel ticks at CONFIG_HZ=250
// (Debian's amd64 configuration), programming Xen's one-shot timer through vcpu_op at each
// tick; xentrace polls its buffers every 100 ms (its default poll sleep). The model's clock runs
// on the profile below, stretched so that an operation takes as many ticks as traced.
inline constexpr uint32_t kTracedHz = 250;
inline constexpr uint64_t kTracerPollNs = 100'000'000;
inline constexpr const char* kClockProfile = "current-server";

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
