// SPDX-License-Identifier: MIT
// Capturing a real program: runs a command under ptrace and writes a trace (trace/trace.hpp) of
// every process it creates. Why ptrace and not strace or perf: the trace needs each process's
// pages and VmPTE *at* its forks, execs, memory calls and exit, which only a tracer that holds
// the process stopped at that moment can read from /proc; strace's output has the calls but no
// address spaces, and perf's fault events have neither the process tree nor VmPTE.
//
// Only the calls the trace records stop the program: a seccomp filter (installed in the first
// child before it execs the command, inherited by every descendant) returns SECCOMP_RET_TRACE
// for them and lets every other system call run at full speed, as `strace --seccomp-bpf` does.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace pib::capture {

struct CaptureOptions {
  std::vector<std::string> command;  // argv of the program to run (searched in PATH)
};

struct CaptureSummary {
  uint64_t processes = 0;  // processes created (the first included), threads excluded
  uint64_t threads = 0;
  uint64_t records = 0;
  uint64_t states = 0;          // address spaces read
  uint64_t skipped_states = 0;  // reads left out: the call's range had no present page
  uint64_t stops = 0;           // times the program was stopped for the tracer
  uint64_t failed_calls = 0;    // recorded calls that failed (left out of the trace)
  uint64_t lost_states = 0;     // address spaces that could not be read (process gone)
  double seconds = 0;           // wall time from start to the last process's exit
  int exit_status = 0;          // the first process's, as a shell reports it (128+signal)
};

// Runs `options.command` to completion, writing the trace to `out` as it goes. InputError when
// the command cannot be started or this system does not allow tracing (the message says why).
CaptureSummary capture(const CaptureOptions& options, std::ostream& out);

// Runs the command once without tracing; its wall time in seconds (for the overhead report).
double run_untraced(const CaptureOptions& options);

}  // namespace pib::capture
