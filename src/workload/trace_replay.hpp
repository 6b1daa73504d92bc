// SPDX-License-Identifier: MIT
// Replaying a captured program (trace/trace.hpp) on the guest model: its processes are rebuilt
// on the guest kernel and its events run in the order they happened, under whatever policy the
// system was built with. Between capture points the trace has no record of the program's own
// memory accesses, so at each point the process touches the pages the capture found present
// that the model does not have yet (written where the real page was private and anonymous, read
// otherwise); then the model's page-table footprint is compared with the recorded VmPTE.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "trace/trace.hpp"
#include "workload/workload.hpp"

namespace pib::workload {

// What a replayed event's counts are charged to.
enum class ReplayKind : uint8_t {
  kFork,  // fork and vfork
  kExec,
  kExit,
  kMmap,
  kMunmap,
  kMprotect,
  kBrk,
  kMremap,
  kMadvise,
  kTouch,  // the program's own page touches between capture points (its faults)
};
inline constexpr std::size_t kReplayKinds = 10;
const char* replay_kind_name(ReplayKind k);

struct FootprintCheck {
  uint64_t line = 0;  // the trace record
  int64_t pid = 0;    // the captured process id
  std::string event;  // e.g. "exec /usr/bin/ls", "before munmap", "child after fork"
  uint64_t model_pages = 0;
  uint64_t recorded_pages = 0;
};

// What one program (the file a process exec'd; its parent's program before that) cost.
struct ProgramTotals {
  Counts counts{};
  uint64_t execs = 0;
};

struct ReplayReport {
  std::array<Counts, kReplayKinds> counts{};
  std::array<uint64_t, kReplayKinds> events{};
  std::map<std::string, ProgramTotals> programs;
  uint64_t processes = 0;
  uint64_t threads = 0;
  uint64_t checks = 0;                     // footprint comparisons made
  std::vector<FootprintCheck> mismatches;  // the first kMaxKept
  uint64_t mismatch_count = 0;
  uint64_t pages_touched = 0;
  uint64_t pages_outside = 0;    // present in the capture, in no mapping the model has
  uint64_t pages_read_only = 0;  // written in reality, only readable now: read instead
  // Calls whose effect the model does not reproduce exactly, by what was done instead.
  std::map<std::string, uint64_t> approximations;
  // Records the model refused (its message), the first kMaxKept.
  std::vector<std::string> refusals;
  uint64_t refusal_count = 0;
  static constexpr std::size_t kMaxKept = 20;
};

// Replays `t` once on `sys` (whose kernel must have no other processes using the captured
// addresses). Throws InputError for a trace that contradicts itself (an event of a process
// that never started).
ReplayReport replay_trace(system::GuestSystem& sys, const trace::Trace& t);

// The workload `trace.replay`: one iteration replays the whole trace. Parameters: `trace` (a
// file written by `pibooster capture`, or a snapshot JSON from `pibooster snapshot`, which
// becomes a one-process trace) and, for snapshots, `op` (fork_exit or exit).
class ReplayWorkload final : public Workload {
 public:
  explicit ReplayWorkload(const Params& params);
  std::string operation() const override;
  void setup(system::GuestSystem& sys) override { (void)sys; }
  void iteration(system::GuestSystem& sys) override;
  const ReplayReport& report() const { return report_; }
  const trace::Trace& trace() const { return trace_; }

 private:
  trace::Trace trace_;
  ReplayReport report_;
};

// Reads a trace file, or a snapshot file as a one-process trace running `snapshot_op`.
trace::Trace load_trace_or_snapshot(const std::string& path, const std::string& snapshot_op);

}  // namespace pib::workload
