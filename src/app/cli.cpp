// SPDX-License-Identifier: MIT
#include "app/cli.hpp"

#include <algorithm>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "app/calibrate_cmd.hpp"
#include "app/fidelity_cmd.hpp"
#include "app/hv_script.hpp"
#include "app/run_cmd.hpp"
#include "app/workload_cmd.hpp"
#include "common/error.hpp"
#include "policies/policy_table.hpp"
#include "sim/events.hpp"

namespace pib::app {

namespace {

constexpr const char* kUsage = R"(usage: pibooster COMMAND [ARGS]

commands:
  run SCENARIO        run a scenario under its policies on a cost profile; prints modeled
                      latencies, the time breakdown and counters, writes results/SCENARIO/
  scenarios           list the built-in scenarios (--show NAME prints one)
  policies            list the policies (the designs a scenario compares)
  profiles            list the built-in cost profiles (--show NAME prints one resolved)
  fidelity            model vs a real Xen 4.17 + Linux 6.1 system's traced hypercall counts
  snapshot PID        capture a live process's address space (maps, pagemap, VmPTE) as JSON
  calibrate [-o FILE] measure this machine's page zeroing/copying and syscall costs into a
                      profile (other rows from the literature, marked so)
  hv-script FILE...   run hypercall scripts against a small PV domain (docs/hv-script.md);
                      exits 1 if any line's expected result ("-> ...") was not met
  workload NAME       run one workload (fork/exec/exit, I/O...) as a scenario built from
                      flags, under baseline and native by default; --list shows them
  stats --list        print every counter: dotted name, unit and meaning
  help [COMMAND]      this text, or the help of one command

Run 'pibooster help COMMAND' or 'pibooster COMMAND --help' for details.
)";

constexpr const char* kHvScriptHelp = R"(usage: pibooster hv-script FILE...

Builds a PV domain (default 1024 pages, 1 vCPU, paper-era Xen; a 'domain' line changes that),
runs each line of FILE as a hypercall or a guest memory access, prints every result, checks the
expectations written as "-> ok", "-> -EINVAL", "-> fault" or "-> 0x...", and ends with the
non-zero counters. The format is documented in docs/hv-script.md; examples/hv-scripts/ has
runnable examples. Exit status: 0 all expectations met, 1 some were not, 2 malformed script.
)";

constexpr const char* kStatsHelp = R"(usage: pibooster stats --list [--markdown]

Prints the table of every counter the model keeps: its dotted name, its unit and what it counts
(--markdown: as the rows of docs/counters.md, which scripts/gen-counters-doc.sh regenerates).
)";

constexpr const char* kPoliciesHelp = R"(usage: pibooster policies

Lists every policy: the named ways to build the system that scenarios (policies = [...]),
'run --compare' and 'workload --compare' choose between. Each is one row of the policy table
(src/policies/policy_table.cpp); docs/adding-a-policy.md shows how to add one.
)";

bool wants_help(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

int cmd_stats(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (wants_help(args)) {
    out << kStatsHelp;
    return 0;
  }
  const bool markdown = args.size() == 3 && args[2] == "--markdown";
  if ((args.size() != 2 && !markdown) || args[1] != "--list") {
    err << kStatsHelp;
    return 2;
  }
  if (markdown) {
    for (const auto& e : sim::kEventTable) {
      out << "| `" << e.name << "` | " << e.unit << " | " << e.description << " |\n";
    }
    return 0;
  }
  out << std::left << std::setw(32) << "counter" << std::setw(10) << "unit"
      << "meaning\n";
  for (const auto& e : sim::kEventTable) {
    out << std::left << std::setw(32) << e.name << std::setw(10) << e.unit << e.description << "\n";
  }
  return 0;
}

int cmd_policies(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (wants_help(args)) {
    out << kPoliciesHelp;
    return 0;
  }
  if (args.size() != 1) {
    err << kPoliciesHelp;
    return 2;
  }
  std::size_t width = 0;
  for (const auto& p : policies::policy_table()) width = std::max(width, p.name.size());
  for (const auto& p : policies::policy_table()) {
    out << std::left << std::setw(static_cast<int>(width + 2)) << p.name << p.description << "\n";
  }
  return 0;
}

int cmd_hv_script(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (wants_help(args)) {
    out << kHvScriptHelp;
    return 0;
  }
  if (args.size() < 2) {
    err << kHvScriptHelp;
    return 2;
  }
  int failed = 0;
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::istringstream in(read_hv_script_file(args[i]));
    out << "=== " << args[i] << "\n";
    const HvScriptResult r = run_hv_script(in, args[i], out);
    failed += r.failed_expectations;
    out << "=== " << args[i] << ": " << r.lines_run << " lines, " << r.failed_expectations
        << " unmet expectation(s)\n\n";
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << kUsage;
    return 2;
  }
  const std::string& cmd = args[0];
  try {
    if (cmd == "help" || cmd == "--help" || cmd == "-h") {
      if (args.size() > 1 && args[1] == "hv-script") {
        out << kHvScriptHelp;
      } else if (args.size() > 1 && args[1] == "stats") {
        out << kStatsHelp;
      } else if (args.size() > 1 && args[1] == "policies") {
        out << kPoliciesHelp;
      } else if (args.size() > 1 && args[1] == "run") {
        out << run_help();
      } else if (args.size() > 1 && args[1] == "scenarios") {
        out << kScenariosHelp;
      } else if (args.size() > 1 && args[1] == "workload") {
        out << workload_help();
      } else {
        out << kUsage;
      }
      return 0;
    }
    if (cmd == "hv-script") return cmd_hv_script(args, out, err);
    if (cmd == "stats") return cmd_stats(args, out, err);
    if (cmd == "policies") return cmd_policies(args, out, err);
    if (cmd == "run") {
      if (wants_help(args)) {
        out << run_help();
        return 0;
      }
      return cmd_run(args, out, err);
    }
    if (cmd == "scenarios") {
      if (wants_help(args)) {
        out << kScenariosHelp;
        return 0;
      }
      return cmd_scenarios(args, out, err);
    }
    if (cmd == "profiles") return cmd_profiles(args, out, err);
    if (cmd == "fidelity") {
      if (wants_help(args)) {
        out << kFidelityHelp;
        return 0;
      }
      return cmd_fidelity(args, out, err);
    }
    if (cmd == "snapshot") {
      if (wants_help(args)) {
        out << kSnapshotHelp;
        return 0;
      }
      return cmd_snapshot(args, out, err);
    }
    if (cmd == "calibrate") {
      if (wants_help(args)) {
        out << kCalibrateHelp;
        return 0;
      }
      return cmd_calibrate(args, out, err);
    }
    if (cmd == "workload") {
      if (wants_help(args)) {
        out << workload_help();
        return 0;
      }
      return cmd_workload(args, out, err);
    }
  } catch (const InputError& e) {
    err << "pibooster: " << e.what() << "\n";
    return 2;
  }
  err << "pibooster: unknown command '" << cmd
      << "' (valid: run, scenarios, policies, profiles, calibrate, fidelity, snapshot, workload, "
         "hv-script, "
         "stats, help)\n";
  return 2;
}

}  // namespace pib::app
