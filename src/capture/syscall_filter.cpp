// SPDX-License-Identifier: MIT
// A classic-BPF seccomp program: x86-64 calls in kTracedCalls return SECCOMP_RET_TRACE (a
// PTRACE_EVENT_SECCOMP stop in the tracer), everything else is allowed untouched. Calls from
// another ABI (x32, ia32) are allowed too: the trace models 64-bit processes only.
#include "capture/syscall_filter.hpp"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pib::capture {

bool install_trace_filter() {
  std::vector<sock_filter> prog;
  auto stmt = [&](uint16_t code, uint32_t k) { prog.push_back(sock_filter{code, 0, 0, k}); };
  auto jump = [&](uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
    prog.push_back(sock_filter{code, jt, jf, k});
  };
  const auto n = static_cast<uint8_t>(kTracedCalls.size());
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
  // Not x86-64: skip the number tests and the TRACE return, land on ALLOW.
  jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, static_cast<uint8_t>(n + 3));
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr));
  for (uint8_t i = 0; i < n; ++i) {
    // A match jumps over the remaining tests to the TRACE return.
    jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(kTracedCalls[i]),
         static_cast<uint8_t>(n - i), 0);
  }
  // No match: over the TRACE return to ALLOW.
  jump(BPF_JMP | BPF_JA, 1, 0, 0);
  stmt(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
  stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  sock_fprog fprog{static_cast<unsigned short>(prog.size()), prog.data()};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) == 0;
}

}  // namespace pib::capture
