// SPDX-License-Identifier: MIT
// libFuzzer's entry point (make fuzz): a finding aborts, so libFuzzer saves the input.
#include <cstdio>
#include <cstdlib>

#include "hypercall_case.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const pib::fuzz::CaseResult r = pib::fuzz::run_hypercall_case({data, size});
  if (!r.finding.empty()) {
    std::fprintf(stderr, "finding: %s\n", r.finding.c_str());
    std::abort();
  }
  return 0;
}
