// SPDX-License-Identifier: MIT
#include "app/cli.hpp"

#include <algorithm>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "app/calibrate_cmd.hpp"
#include "app/capture_cmd.hpp"
#include "app/design_space_cmd.hpp"
#include "app/fidelity_cmd.hpp"
#include "app/headlines_cmd.hpp"
#include "app/hv_script.hpp"
#include "app/replay_cmd.hpp"
#include "app/run_cmd.hpp"
#include "app/sweep_cmd.hpp"
#include "app/sweep_job.hpp"
#include "app/sweep_merge.hpp"
#include "app/version.hpp"
#include "app/workload_cmd.hpp"
#include "common/error.hpp"
#include "common/types.hpp"
#include "policies/policy_table.hpp"
#include "sim/events.hpp"
#include "xen/domain_builder.hpp"
#include "xen/hypervisor.hpp"
#include "xen/params.hpp"

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
  capture -- CMD...   run a real program under ptrace and record its processes, memory calls
                      and address spaces as a trace (docs/capture-replay.md)
  replay TRACE        replay a captured program (or a snapshot) on the model under each
                      policy, checking every recorded VmPTE; time per kind of event
  calibrate [-o FILE] a profile from this machine: zeroing, copying and syscall measured,
                      fork/exec/exit/fault fitted to real small processes, other rows carried
                      and marked so; --check: the model's native timings against real ones
  hv-script FILE...   run hypercall scripts against a small PV domain (docs/hv-script.md);
                      exits 1 if any line's expected result ("-> ...") was not met
  workload NAME       run one workload (fork/exec/exit, I/O...) as a scenario built from
                      flags, under baseline and native by default; --list shows them
  stats --list        print every counter: dotted name, unit and meaning
  headlines FILE...   one table across runs' results.json: PiBooster vs baseline, model with
                      90 % intervals beside the paper
  design-space        every page-table design on every workload that tells them apart, one
                      table against baseline (docs/design-space.md)
  sweep SPEC          expand a sweep (axes over scenario keys and costs x policies) into jobs
                      named by their configuration hash; run them here (-j N), or with GNU
                      parallel or a Slurm array (the job list and sbatch script it writes)
  merge DIR           gather a sweep's results into one CSV/JSON table and a plot
  job DIR             run one sweep job (what the job list and the Slurm script call)
  help [COMMAND]      this text, or the help of one command
  --version           the tool version (git describe of the source it was built from)

Run 'pibooster help COMMAND' or 'pibooster COMMAND --help' for details.
)";

// The defaults are the domain builder's and the hypervisor's own, so the text cannot drift.
std::string hv_script_help() {
  const xen::PvDomainSpec spec;
  const xen::XenParams xen;
  return "usage: pibooster hv-script FILE...\n\n"
         "Builds a PV domain (default " +
         std::to_string(spec.pages) + " pages = " + std::to_string(spec.pages / kPagesPerMiB) +
         " MiB, " + std::to_string(spec.vcpus) + " vCPU, " +
         std::string(xen::name_of(xen.generation)) +
         " Xen, unprivileged; a 'domain' line changes that),\n"
         R"(runs each line of FILE as a hypercall or a guest memory access, prints every result, checks the
expectations written as "-> ok", "-> -EINVAL", "-> fault" or "-> 0x...", and ends with the
non-zero counters. The format is documented in docs/hv-script.md; examples/hv-scripts/ has
runnable examples. Exit status: 0 all expectations met, 1 some were not, 2 malformed script.
)";
}

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
  if (args.size() < 2) {
    err << hv_script_help();
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

// Every command: its name, its help, and what runs it. `help NAME` and `NAME --help` print
// the same text; the usage's command list is written from the same names.
struct Command {
  const char* name;
  std::string (*help)();
  int (*run)(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
};

const Command kCommands[] = {
    {"run", run_help, cmd_run},
    {"scenarios", [] { return std::string(kScenariosHelp); }, cmd_scenarios},
    {"policies", [] { return std::string(kPoliciesHelp); }, cmd_policies},
    {"profiles", [] { return std::string(kProfilesHelp); }, cmd_profiles},
    {"fidelity", [] { return std::string(kFidelityHelp); }, cmd_fidelity},
    {"snapshot", [] { return std::string(kSnapshotHelp); }, cmd_snapshot},
    {"capture", [] { return std::string(kCaptureHelp); }, cmd_capture},
    {"replay", replay_help, cmd_replay},
    {"calibrate", [] { return std::string(kCalibrateHelp); }, cmd_calibrate},
    {"hv-script", hv_script_help, cmd_hv_script},
    {"workload", workload_help, cmd_workload},
    {"stats", [] { return std::string(kStatsHelp); }, cmd_stats},
    {"headlines", [] { return std::string(kHeadlinesHelp); }, cmd_headlines},
    {"design-space", [] { return std::string(kDesignSpaceHelp); }, cmd_design_space},
    {"sweep", [] { return std::string(kSweepHelp); }, cmd_sweep},
    {"merge", [] { return std::string(kMergeHelp); }, cmd_merge},
    {"job", [] { return std::string(kJobHelp); }, cmd_job},
};

const Command* find_command(const std::string& name) {
  for (const Command& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

std::string command_names() {
  std::string names;
  for (const Command& c : kCommands) names += std::string(c.name) + ", ";
  return names + "help";
}

int cmd_help(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() == 1) {
    out << kUsage;
    return 0;
  }
  if (args[1] == "help") {
    out << kUsage;
    return 0;
  }
  const Command* c = find_command(args[1]);
  if (c == nullptr) {
    err << "pibooster: no command '" << args[1] << "' (commands: " << command_names() << ")\n";
    return 2;
  }
  out << c->help();
  return 0;
}

}  // namespace

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << kUsage;
    return 2;
  }
  const std::string& cmd = args[0];
  try {
    if (cmd == "--version" || cmd == "version") {
      out << "pibooster " << tool_version() << "\n";
      return 0;
    }
    if (cmd == "help" || cmd == "--help" || cmd == "-h") return cmd_help(args, out, err);
    if (const Command* c = find_command(cmd)) {
      if (wants_help(args)) {
        out << c->help();
        return 0;
      }
      return c->run(args, out, err);
    }
  } catch (const InputError& e) {
    err << "pibooster: " << e.what() << "\n";
    return 2;
  } catch (const xen::DomainCrashed& e) {
    // The simulated system stopped (a run too short of memory for its I/O page tables).
    err << "pibooster: the run stopped: " << e.what() << "\n";
    return 1;
  }
  err << "pibooster: unknown command '" << cmd << "' (valid: " << command_names() << ")\n";
  return 2;
}

}  // namespace pib::app
