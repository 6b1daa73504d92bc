// SPDX-License-Identifier: MIT
// What this machine can show about itself from user space, measured natively: clearing and
// copying a 4 KiB page and a system call round trip (here, in this process), and whole real
// operations — fork+exit, fork+exec, vfork+exec, fork of a process with a large heap,
// mmap+touch+munmap — timed by pibooster-probe, a small static program, so that what forks is a
// small process and not the simulator. Nothing here runs the model.
#pragma once

#include <string>
#include <vector>

namespace pib::app {

// The median of the rounds, and the fastest and slowest round (ns per operation).
struct Measured {
  double median = 0;
  double low = 0;
  double high = 0;
};
Measured summarise(std::vector<double> rounds_ns);

Measured measure_zero_page(int rounds);
Measured measure_copy_page(int rounds);
Measured measure_syscall(int rounds);

// `probe MODE ROUNDS N [MIB]` (see native_probe.c); InputError when it cannot run.
Measured run_probe(const std::string& probe, const std::string& mode, int rounds, int n, int mib);
// pibooster-probe beside this program, or `given`.
std::string find_probe(const std::string& given);

// "AMD EPYC, Linux 6.1.0, 2 CPUs": what the measurements were taken on.
std::string this_machine();

}  // namespace pib::app
