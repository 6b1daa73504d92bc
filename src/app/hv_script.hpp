// SPDX-License-Identifier: MIT
// The hypercall-script front end: builds a small PV domain, runs a text script of hypercalls and
// guest memory accesses against it (format: docs/hv-script.md), checks each line's expected
// result, and prints every result plus the counters. A debugging tool and the way attack
// regressions are written down.
#pragma once

#include <iosfwd>
#include <string>

namespace pib::app {

struct HvScriptResult {
  int failed_expectations = 0;
  int lines_run = 0;
};

// Throws InputError (naming file and line) for malformed scripts.
HvScriptResult run_hv_script(std::istream& in, const std::string& name, std::ostream& out);

}  // namespace pib::app
