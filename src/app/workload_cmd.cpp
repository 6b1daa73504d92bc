// SPDX-License-Identifier: MIT
#include "app/workload_cmd.hpp"

#include <iomanip>
#include <ostream>
#include <string>

#include "app/args.hpp"
#include "app/run_options.hpp"
#include "app/version.hpp"
#include "app/workload_extras.hpp"
#include "common/error.hpp"
#include "scenario/scenario.hpp"
#include "workload/workload.hpp"

namespace pib::app {

namespace {

const char* const kWorkloadUsage = R"(usage: pibooster workload NAME [options]
       pibooster workload --list

Runs one workload as a scenario built from these options (the keys a scenario file would set,
with the same checks) under each policy, and prints what 'pibooster run' prints: the headline
against the first policy with its interval, one row per policy, the savings split and the cost
rows that move it most; --verbose adds where the time goes and the mean per operation of every
counter that moved, one column per policy (one operation = one iteration, e.g. one fork+exit).

the system (scenario keys):
  --vcpus N           [machine] vcpus (default 1)
  --memory-mib N      [machine] memory_mib: guest memory (default 128)
  --iommu MODE        [machine] iommu: none (default), sync or relaxed
  --caching-mode      [machine] caching_mode = true: invalidate the IOTLB on every map too
  --xen GEN           [xen] generation: modern (4.15-4.17, default) or paper-era (4.8-4.11)
  --iommu-superpages S  [xen] iommu_superpages: on, off (iommu=no-superpages) or default
  --xsa288 backport     [xen] xsa288: paper-era Xen with XSA-288's fix (patched 4.8-4.11)
                      (on for modern Xen, as 4.17; paper-era Xen has none)
  --linux GEN         [guest] linux: Linux generation of the Xen paths, 6 (default) or 4
  --randomize-va-space N  [guest] randomize_va_space: 0, 1 or 2 (default, Linux's)
  --hz N              [guest] hz: the guest kernel's tick (1..10000; default none): the CPUs
                      then run a clock on the cost profile, and long hypercalls a tick lands in
                      are preempted and continue (xen.hypercall.preempted)
  --clock-scale X     [machine] clock_scale: stretch the clock X times (a slower machine, as
                      an emulator; default 1); needs --hz
  --clock-profile P   the same as --profile (the profile runs the clock); needs --hz
  --param KEY=VALUE   [workload.params]: a workload parameter (repeatable; --list shows each
                      workload's parameters with their unit, default and meaning)

policies (default baseline,native):
  --pvops LIST        alias: xen means policy baseline, native means native (xen,native =
                      --compare baseline,native)
  --pibooster MODE    alias: the xen column runs off = baseline (default), full = pibooster,
                      cache = pibooster-cache-only, validation = pibooster-validation-only

what else to show:
  --trace             print the hypercalls (and trapped faults) of the last iteration of every
                      policy that runs on Xen, in order, before the results
  --host-memory       also print the simulator's own memory (resident-set growth from before
                      the system was built to the workload's peak) against the guest memory
                      touched (machine frames holding data), per policy

as in 'pibooster run' (defaults here: 20 iterations after 2 warm-up, no output directory):
)";

constexpr uint64_t kDefaultIterations = 20;
constexpr uint64_t kDefaultWarmup = 2;

// Flags that set one scenario key each.
constexpr KeyFlag kKeyFlags[] = {
    {"--vcpus", "machine.vcpus"},
    {"--memory-mib", "machine.memory_mib"},
    {"--iommu", "machine.iommu"},
    {"--xen", "xen.generation"},
    {"--iommu-superpages", "xen.iommu_superpages"},
    {"--xsa288", "xen.xsa288"},
    {"--linux", "guest.linux"},
    {"--randomize-va-space", "guest.randomize_va_space"},
    {"--clock-scale", "machine.clock_scale"},
};

// The old spellings of policies: --pvops kinds, and --pibooster modes for the xen column.
struct Alias {
  const char* name;
  const char* policy;
};
constexpr Alias kPibooster[] = {{"off", "baseline"},
                                {"full", "pibooster"},
                                {"cache", "pibooster-cache-only"},
                                {"validation", "pibooster-validation-only"}};

std::string pibooster_policy(const std::string& mode) {
  std::string valid;
  for (const auto& a : kPibooster) {
    if (mode == a.name) return a.policy;
    valid += (valid.empty() ? "" : ", ") + std::string(a.name);
  }
  throw InputError("--pibooster: unknown mode '" + mode + "' (valid: " + valid + ")");
}

struct WorkloadArgs {
  scenario::Scenario sc;
  RunOptions run;
  std::vector<std::string> pvops = {"xen", "native"};
  std::string pibooster = "off";
  bool alias_given = false;
  bool trace = false;
  bool host_memory = false;
  bool hz = false;
  bool clock_flags = false;  // --clock-profile or --clock-scale
};

scenario::Scenario workload_scenario(const std::string& name) {
  scenario::Scenario sc;
  sc.name = name;
  sc.description = workload::workload_info(name).description;
  sc.origin = "pibooster workload";
  sc.iterations = kDefaultIterations;
  sc.warmup = kDefaultWarmup;
  sc.workload.name = name;
  return sc;
}

// Options of this command alone; false when `args[i]` is none of them.
bool take_workload_option(const std::vector<std::string>& args, std::size_t& i, WorkloadArgs& a) {
  const std::string& flag = args[i];
  if (flag == "--trace") return a.trace = true;
  if (flag == "--host-memory") return a.host_memory = true;
  if (flag == "--caching-mode") {
    a.sc.set("machine.caching_mode", "true", flag);
    return true;
  }
  const bool known = flag == "--pvops" || flag == "--pibooster" || flag == "--hz" ||
                     flag == "--clock-profile" || flag == "--param" ||
                     key_of_flag(kKeyFlags, flag) != nullptr;
  if (!known) return false;
  if (i + 1 >= args.size()) throw InputError(flag + " needs a value (see --help)");
  const std::string& v = args[++i];
  if (flag == "--pvops") {
    a.pvops = split(v, ',');
    for (const auto& kind : a.pvops) system::pvops_by_name(kind);
    a.alias_given = true;
  } else if (flag == "--pibooster") {
    pibooster_policy(v);
    a.pibooster = v;
    a.alias_given = true;
  } else if (flag == "--hz") {
    const uint64_t hz = parse_u64(flag, v);
    if (hz == 0 || hz > 10000) throw InputError("--hz must be 1..10000");
    a.sc.set("guest.hz", v, flag);
    a.hz = true;
  } else if (flag == "--clock-profile") {
    a.run.profile = v;
    a.clock_flags = true;
  } else if (flag == "--param") {
    const auto eq = v.find('=');
    if (eq == std::string::npos || eq == 0)
      throw InputError("--param expects KEY=VALUE, got '" + v + "'");
    if (a.sc.workload.params.values().count(v.substr(0, eq)) != 0) {
      throw InputError("--param " + v.substr(0, eq) + " is given twice");
    }
    a.sc.workload.params.set(v.substr(0, eq), v.substr(eq + 1));
  } else {
    a.sc.set(key_of_flag(kKeyFlags, flag), v, flag);
    a.clock_flags = a.clock_flags || flag == "--clock-scale";
  }
  return true;
}

// --pvops and --pibooster spelled as policies.
std::vector<std::string> aliased_policies(const WorkloadArgs& a) {
  std::vector<std::string> policies;
  for (const auto& kind : a.pvops) {
    policies.push_back(system::pvops_by_name(kind) == system::PvOpsKind::kXen
                           ? pibooster_policy(a.pibooster)
                           : "native");
  }
  return policies;
}

WorkloadArgs parse_args(const std::vector<std::string>& args) {
  WorkloadArgs a;
  a.sc = workload_scenario(args[1]);
  for (std::size_t i = 2; i < args.size(); ++i) {
    if (take_workload_option(args, i, a) || a.run.take(args, i)) continue;
    throw InputError("unknown option '" + args[i] + "' (see pibooster workload --help)");
  }
  if (a.clock_flags && !a.hz) throw InputError("--clock-profile and --clock-scale need --hz");
  if (a.alias_given && a.run.policies) {
    throw InputError("--pvops and --pibooster are the old spellings of --compare: give one");
  }
  a.sc.policies = aliased_policies(a);
  a.run.apply(a.sc);
  workload::make_workload(a.sc.workload.name, a.sc.workload.params);  // names bad parameters
  return a;
}

int list_workloads(std::ostream& out) {
  for (const auto& w : workload::workload_catalog()) {
    out << std::left << std::setw(20) << w.name << w.description << "\n";
    if (w.keys.empty()) out << "    parameters: none\n";
    for (const auto& k : w.keys) {
      const workload::ParamDoc* d = workload::param_doc(k);
      if (d == nullptr) model_bug("workload parameter without documentation: " + k);
      out << "    " << std::left << std::setw(20) << k << std::setw(13) << d->unit << "default "
          << d->fallback << ": " << d->meaning << "\n";
    }
  }
  return 0;
}

}  // namespace

std::string workload_help() {
  return std::string(kWorkloadUsage) + run_options_help();
}

int cmd_workload(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() >= 2 && args[1] == "--list") return list_workloads(out);
  if (args.size() < 2 || args[1].rfind("--", 0) == 0) {
    err << workload_help();
    return 2;
  }
  WorkloadArgs a = parse_args(args);
  WorkloadExtras extras(out, a.trace, a.host_memory, a.sc.policies);
  const scenario::RunOutput run = scenario::run_scenario(a.sc, a.run.load_profile(), {}, &extras);
  const report::Uncertainty u = report::analyse(run);
  a.run.report.uncertainty = &u;
  a.run.report.tool_version = tool_version();
  if (!a.run.out_dir.empty()) err << write_outputs(a.run.out_dir, run, a.run).note() << "\n";
  print_results(out, run, a.run);
  extras.print_host_memory(out);
  for (const auto& r : run.results) {
    if (!r.audit.empty()) {
      err << "pibooster: hypervisor audit of " << r.policy
          << " failed after the run: " << r.audit.front() << "\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace pib::app
