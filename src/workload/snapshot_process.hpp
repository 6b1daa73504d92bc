// SPDX-License-Identifier: MIT
// Rebuilding a real process in the guest model from its snapshot, and the operations the
// ground truth traced on it (fork+exit, fork+execve, vfork+execve, mmap+touch+munmap), pinned
// to one vCPU.
#pragma once

#include <string>

#include "snapshot/snapshot.hpp"
#include "workload/snapshot_layout.hpp"
#include "workload/workload.hpp"

namespace pib::workload {

// The VMA a /proc/PID/maps line describes, as the model's kernel holds it: [heap], [stack],
// [vvar] (a special mapping copied at fork), [vdso] (no fault-around), file mappings through
// the page cache (registered at the size the mapping needs unless known larger), shared
// anonymous memory as a shmem file of its own, private anonymous memory.
guest::Vma vma_of_map(const snapshot::MapEntry& m, guest::PageCache& cache);

// Creates the process: the snapshot's VMAs (file mappings through the page cache, [vvar] as a
// special mapping copied at fork, [vsyscall] left to the kernel half) and its present pages,
// faulted in by the process itself — file and shared pages read, anonymous pages written
// (through a temporary write permission on the whole VMA where it is now read-only, as the
// start-up's relocation before mprotect did). The kernel's own special mappings are laid out as
// the modelled kernel (Linux 6.1) has them: one [vvar] mapping, where newer kernels split off
// [vvar_vclock]. The vDSO pages and the [vvar] data and pvclock pages are touched too: the
// program's clock reads use them, and pagemap does not report such special pages. An anonymous
// page inside an executable, non-writable mapping (a code patch or breakpoint of the capturing
// machine's tools) is taken as the file page it replaced. Returns the pid.
// `placement` keeps the captured addresses or lets the model's kernel place what the kernel
// places (snapshot_layout.hpp).
guest::Pid build_snapshot_process(system::GuestSystem& sys, const snapshot::Snapshot& snap,
                                  VcpuId cpu = 0,
                                  SnapshotPlacement placement = SnapshotPlacement::kAsCaptured);

// What the benchmark's fork loop does besides fork and exit, per iteration. The ground truth's
// program (fork; the child calls _exit(0); the parent waits) is described here, not measured:
// which pages it writes and which code the child runs after fork. The defaults are inferred from
// three traced counters (docs/fidelity.md): 4 copy-on-write copies (Linux's
// xen_mmu_flush_tlb_one_user), 8 faults and 6 trapped PTE writes per fork+exit; the last two
// are compared figures too, so they match by construction.
struct ForkLoop {
  // Pages the parent writes between fork's return and its sleep in waitpid: its stack top and
  // then the first writable private pages (fork's parent-side lock release). The child still
  // shares them, so the parent copies them.
  uint64_t parent_pages_before_wait = 2;
  // Pages the child writes before _exit: the parent's pages above (now the child's alone:
  // reused), then the next writable private pages (child-side resets; still shared: copied).
  uint64_t child_pages = 4;
  // Text the child executes, which fork did not copy (file mappings without anonymous pages are
  // left to faults): the program's own code at the start of the text and the C library's
  // fork-return and _exit code further in, two fault-around windows.
  uint64_t child_text_windows = 2;
  // Pages the parent writes after waitpid returns (its stack and the same data: no fault).
  uint64_t parent_pages_after_wait = 2;
};

// The operations the ground truth traced (its bench.c and bench2.c modes): fork+exit,
// fork/vfork+execve, mmap+touch+munmap (2 MiB), sbrk(+4 MiB)+touch+sbrk(-4 MiB), mprotect of a
// touched 2 MiB area to read-only and back then one write per page, and a 4 MiB mapping touched
// then unmapped in two parts (3 MiB, then the last 1 MiB).
enum class SnapshotOp {
  kForkExit,
  kForkExec,
  kVforkExec,
  kMmapTouch,
  kBrkCycle,
  kMprotectCycle,
  kMunmapPartial
};
SnapshotOp snapshot_op_by_name(const std::string& name);

class SnapshotWorkload final : public Workload {
 public:
  SnapshotWorkload(snapshot::Snapshot snap, SnapshotOp op,
                   SnapshotPlacement placement = SnapshotPlacement::kAsCaptured, ForkLoop loop = {})
      : snap_(std::move(snap)), op_(op), placement_(placement), loop_(loop) {}
  std::string operation() const override;
  void setup(system::GuestSystem& sys) override;
  void iteration(system::GuestSystem& sys) override;
  guest::Pid pid() const { return pid_; }

 private:
  // Writes `pages` pages: the stack top first, then writable private pages the process has.
  void loop_writes(guest::Kernel& k, guest::Pid pid, uint64_t pages);
  // Executes code in `windows` fault-around windows of the program text: the first text page,
  // then pages spread evenly through the text.
  void run_text(guest::Kernel& k, guest::Pid pid, uint64_t windows);

  snapshot::Snapshot snap_;
  SnapshotOp op_;
  SnapshotPlacement placement_;
  ForkLoop loop_;
  guest::Pid pid_ = 0;
  guest::Image tiny_;
  uint64_t mprotect_area_ = 0;  // kMprotectCycle: the snapshot's touched 2 MiB mapping
};

}  // namespace pib::workload
