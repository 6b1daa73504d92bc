// SPDX-License-Identifier: MIT
// Traces of real programs: what `pibooster capture` recorded while a command ran on this
// machine, and what `pibooster replay` rebuilds on the guest model. A trace is the process tree
// in the order its events happened (fork, vfork, thread clone, exec, exit, wait), the memory
// system calls with their arguments and results, and the address space of a process at each
// capture point (its mappings, its present pages, VmPTE). The file format is documented in
// docs/capture-replay.md; it is JSON Lines, one record per line, so errors name a line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "snapshot/snapshot.hpp"

namespace pib::trace {

inline constexpr int kFormatVersion = 1;
inline constexpr const char* kFormatName = "pibooster-trace";

// Limits checked while reading, before anything is built from a record.
inline constexpr uint64_t kMaxRecords = 2'000'000;
inline constexpr uint64_t kMaxLineBytes = 64ULL << 20;
inline constexpr uint64_t kMaxProcesses = 100'000;

enum class Kind {
  kStart,   // a process already running when the trace begins, rebuilt from `state`
  kFork,    // a new process (its own copy of the address space)
  kVfork,   // a child that borrows the parent's address space until it execs or exits
  kThread,  // a clone sharing the address space (CLONE_VM without CLONE_VFORK)
  kExec,    // a successful execve: `state` is the new image right after the kernel loaded it
  kExit,    // the last thread of a process leaves: `state` is the address space before release
  kWait,    // wait4/waitid returned a child
  kMmap,
  kMunmap,
  kMprotect,
  kBrk,
  kMremap,
  kMadvise,
};
const char* kind_name(Kind k);
std::optional<Kind> kind_by_name(const std::string& name);

// The address space of one process at one capture point.
struct State {
  uint64_t vmpte_kb = 0;
  uint64_t vmrss_kb = 0;
  std::vector<snapshot::MapEntry> maps;
  std::vector<snapshot::PageRun> runs;  // present pages only
  snapshot::Snapshot to_snapshot(const std::string& origin) const;
  static State of(const snapshot::Snapshot& s);
};

struct Record {
  Kind kind = Kind::kExit;
  uint64_t line = 0;  // where it was read (0 for records not read from a file)
  int64_t pid = 0;    // the process (thread-group id) the event belongs to
  int64_t tid = 0;    // the thread that made the call
  // fork/vfork/thread: the new task and the clone flags; wait: the child reaped.
  int64_t child = 0;
  uint64_t flags = 0;
  // exec: the file the kernel loaded (the process's /proc/PID/exe after the exec).
  std::string path;
  // Memory calls: arguments as the program passed them and the kernel's result (an address,
  // 0, or -errno as the raw syscall returned it). mmap: addr, length, prot, flags, the file's
  // path when fd refers to one (empty for anonymous memory), offset. munmap/mprotect/madvise:
  // addr, length, prot or advice in `arg`. brk: addr. mremap: addr, length (old), `arg` (new
  // length), flags, `addr2` (the new address requested with MREMAP_FIXED).
  uint64_t addr = 0;
  uint64_t length = 0;
  uint64_t arg = 0;
  uint64_t addr2 = 0;
  uint64_t offset = 0;
  std::string file;
  int64_t result = 0;
  // The process's address space at this point: after fork (for parent and child), after exec,
  // before exit, and before every memory call that can remove pages or tables.
  std::optional<State> state;
  std::optional<State> child_state;  // fork: the child's address space right after the copy
  std::optional<State> before;       // exec: the old address space right before it was dropped
};

struct Header {
  int version = kFormatVersion;
  std::vector<std::string> command;
  std::string kernel;          // uname -r of the capturing machine
  std::string thp;             // /sys/kernel/mm/transparent_hugepage/enabled, the chosen mode
  int randomize_va_space = 2;  // /proc/sys/kernel/randomize_va_space
  uint64_t page_size = 4096;
  int64_t root_pid = 0;  // the first process (the one that ran the command)
  // From the closing record (a trace without one is truncated):
  double seconds = 0;  // wall time of the traced run
  int exit_status = 0;
};

struct Trace {
  Header header;
  std::vector<Record> records;
  std::string origin;  // the file it was read from
};

// Memory-call constants as x86-64 Linux defines them (the trace stores raw values).
namespace linux_abi {
inline constexpr uint64_t kProtRead = 0x1, kProtWrite = 0x2, kProtExec = 0x4;
inline constexpr uint64_t kMapShared = 0x01, kMapPrivate = 0x02, kMapFixed = 0x10,
                          kMapAnonymous = 0x20, kMapFixedNoReplace = 0x100000;
inline constexpr uint64_t kMremapMaymove = 1, kMremapFixed = 2, kMremapDontunmap = 4;
inline constexpr uint64_t kMadvDontneed = 4, kMadvFree = 8, kMadvRemove = 9;
inline constexpr uint64_t kCloneVm = 0x100, kCloneVfork = 0x4000, kCloneThread = 0x10000;
}  // namespace linux_abi

// Writing: the header line, then one line per record (appended as the capture goes).
std::string header_line(const Header& h);
std::string record_line(const Record& r);
// The closing line, written when the traced command has finished.
std::string end_line(const Header& h, uint64_t records);

// Reading. InputError naming the file, line and field for anything malformed, truncated or
// beyond the limits above.
Trace parse(const std::string& text, const std::string& origin);
Trace load(const std::string& path);

// A snapshot file as a one-process trace: the process is rebuilt from the snapshot, then runs
// `operation` once ("fork_exit", "exit"); see docs/capture-replay.md.
Trace from_snapshot(const snapshot::Snapshot& snap, const std::string& operation);

}  // namespace pib::trace
