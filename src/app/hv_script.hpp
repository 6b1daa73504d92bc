// SPDX-License-Identifier: MIT
// The hypercall-script front end: builds a small PV domain, runs a text script of hypercalls and
// guest memory accesses against it (format: docs/hv-script.md), checks each line's expected
// result, and prints every result plus the counters. A debugging tool and the way attack
// regressions are written down.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

namespace pib::app {

struct HvScriptResult {
  int failed_expectations = 0;
  int lines_run = 0;
};

// Throws InputError (naming file and line) for malformed scripts.
HvScriptResult run_hv_script(std::istream& in, const std::string& name, std::ostream& out);

// A script file's text. InputError when `path` is not a regular file (a directory, a device
// such as /dev/zero, a pipe), cannot be read, or is larger than kMaxScriptBytes.
inline constexpr uint64_t kMaxScriptBytes = 1 << 20;
std::string read_hv_script_file(const std::string& path);

// Upper bounds of a script's `domain` line, checked before anything is allocated.
inline constexpr uint64_t kMaxScriptPages = 1 << 18;  // 1 GiB of guest memory
inline constexpr uint64_t kMaxScriptCpus = 64;        // vCPU and CPU masks are 64-bit
// The clock's cost per event (domain clock=NS), in ns.
inline constexpr uint64_t kMaxScriptUnitNs = 1000000;
// Extents one memory_op line may name (checked as they are read, before any allocation).
inline constexpr uint64_t kMaxScriptExtents = 4096;

}  // namespace pib::app
