// SPDX-License-Identifier: MIT
// Rebuilding a real process in the guest model from its snapshot, and the operations the
// ground truth traced on it (fork+exit, fork+execve, vfork+execve, mmap+touch+munmap), pinned
// to one vCPU.
#pragma once

#include <string>

#include "snapshot/snapshot.hpp"
#include "workload/workload.hpp"

namespace pib::workload {

// Creates the process: the snapshot's VMAs (file mappings through the page cache, [vvar] as a
// special mapping copied at fork, [vsyscall] left to the kernel half) and its present pages,
// faulted in by the process itself — file and shared pages read, anonymous pages written
// (through a temporary write permission where the VMA is now read-only, as relocation did).
// The vDSO pages and the first [vvar] page are touched too: the program's clock reads use them,
// and pagemap does not report such special pages. Returns the pid.
guest::Pid build_snapshot_process(system::GuestSystem& sys, const snapshot::Snapshot& snap,
                                  VcpuId cpu = 0);

// What the benchmark's loop writes after fork, per iteration: `child_pages` pages in the child
// (the stack top first, then the first writable data pages) before it exits, `parent_pages` in
// the parent after waitpid. These describe the program, not the model.
struct LoopWrites {
  uint64_t child_pages = 2;
  uint64_t parent_pages = 6;
};

enum class SnapshotOp { kForkExit, kForkExec, kVforkExec, kMmapTouch };
SnapshotOp snapshot_op_by_name(const std::string& name);

class SnapshotWorkload final : public Workload {
 public:
  SnapshotWorkload(snapshot::Snapshot snap, SnapshotOp op, LoopWrites writes)
      : snap_(std::move(snap)), op_(op), writes_(writes) {}
  std::string operation() const override;
  void setup(system::GuestSystem& sys) override;
  void iteration(system::GuestSystem& sys) override;
  guest::Pid pid() const { return pid_; }

 private:
  void loop_writes(guest::Kernel& k, guest::Pid pid, uint64_t pages);

  snapshot::Snapshot snap_;
  SnapshotOp op_;
  LoopWrites writes_;
  guest::Pid pid_ = 0;
  guest::Image tiny_;
};

}  // namespace pib::workload
