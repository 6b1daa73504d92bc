// SPDX-License-Identifier: MIT
// The system calls a capture stops at, and the seccomp filter that stops only at them.
#pragma once

#include <array>

namespace pib::capture {

// x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl).
namespace nr {
inline constexpr long kMmap = 9, kMprotect = 10, kMunmap = 11, kBrk = 12, kMremap = 25,
                      kMadvise = 28, kClone = 56, kFork = 57, kVfork = 58, kExecve = 59,
                      kWait4 = 61, kWaitid = 247, kExecveat = 322, kClone3 = 435;
}  // namespace nr

inline constexpr std::array<long, 14> kTracedCalls = {
    nr::kMmap, nr::kMprotect, nr::kMunmap, nr::kBrk,   nr::kMremap, nr::kMadvise,  nr::kClone,
    nr::kFork, nr::kVfork,    nr::kExecve, nr::kWait4, nr::kWaitid, nr::kExecveat, nr::kClone3};

// In the calling process: sets no_new_privs (required for an unprivileged filter) and installs
// the filter. Returns false with errno set when the kernel refuses.
bool install_trace_filter();

}  // namespace pib::capture
