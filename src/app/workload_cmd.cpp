// SPDX-License-Identifier: MIT
#include "app/workload_cmd.hpp"

#include <charconv>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>

#include "app/args.hpp"
#include "common/error.hpp"
#include "cost/cost_model.hpp"
#include "cost/cost_profile.hpp"
#include "workload/host_memory.hpp"
#include "workload/workload.hpp"

namespace pib::app {

const char* const kWorkloadHelp = R"(usage: pibooster workload NAME [options]
       pibooster workload --list

Runs a process workload on the guest kernel and prints, for every counter that moved, its mean
per operation (one operation = one iteration, e.g. one fork+exit), one column per pv-ops.

options:
  --pvops LIST        xen, native or xen,native (default: xen,native)
  --iterations N      measured iterations (default 20)
  --warmup N          unmeasured iterations first (default 2)
  --vcpus N           vCPUs of the guest (default 1)
  --memory-mib N      guest memory (default 128)
  --xen GEN           Xen generation: modern (4.15-4.17, default) or paper-era (4.8-4.11)
  --linux GEN         Linux generation of the Xen paths: 6 (default) or 4
  --iommu MODE        none (default), sync or relaxed: how the Xen domain uses the IOMMU
  --caching-mode      the IOMMU reports caching mode (invalidate on every map too)
  --pibooster MODE    off (default), full, cache (cache only) or validation (validation only)
  --randomize-va-space N  the guest's address-space randomisation: 0, 1 or 2 (default, Linux's)
  --seed N            seed of the layout draws and of seeded workloads (default 1)
  --param KEY=VALUE   a workload parameter (repeatable; --list shows each workload's keys)
  --hz N              the guest kernel's tick (CONFIG_HZ, 1..10000; default none): the CPUs then
                      run a clock on a cost profile, and long hypercalls a tick lands in are
                      preempted and continue (xen.hypercall.preempted)
  --clock-profile P   the profile that runs the clock (default paper-era-server)
  --clock-scale X     stretch the clock X times (a slower machine, as an emulator; default 1)
  --trace             print the hypercalls (and trapped faults) of the last iteration under
                      the xen pv-ops, in order, before the table
  --host-memory       also print the simulator's own memory (resident-set growth from before
                      the system was built to the workload's peak) against the guest memory
                      touched (machine frames holding data), per pv-ops
)";

namespace {

constexpr const char* kDefaultClockProfile = "paper-era-server";

std::string fixed2(uint64_t x100) {
  std::string s = std::to_string(x100 / 100) + ".";
  const uint64_t frac = x100 % 100;
  if (frac < 10) s += "0";
  return s + std::to_string(frac);
}

std::string mib(uint64_t bytes) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << static_cast<double>(bytes) / (1024.0 * 1024.0)
    << " MiB";
  return s.str();
}

void print_host_memory(std::ostream& out, system::PvOpsKind kind,
                       const workload::HostMemoryFigures& f) {
  std::ostringstream ratio;
  ratio << std::fixed << std::setprecision(2) << f.ratio();
  out << "host memory (" << system::name_of(kind) << "): " << mib(f.host_growth())
      << " resident-set growth at the peak (high-water " << mib(f.hwm_growth) << ") for "
      << mib(f.touched_bytes()) << " of guest memory touched (" << f.touched_frames
      << " frames holding data; " << f.guest_pages_in_use << " guest pages in use): ratio "
      << ratio.str() << "\n";
}

}  // namespace

int cmd_workload(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() >= 2 && args[1] == "--list") {
    for (const auto& w : workload::workload_catalog()) {
      out << std::left << std::setw(20) << w.name << w.description << "\n";
      std::string keys;
      for (const auto& k : w.keys) keys += (keys.empty() ? "" : ", ") + k;
      out << std::setw(20) << ""
          << "parameters: " << (keys.empty() ? "none" : keys) << "\n";
    }
    return 0;
  }
  if (args.size() < 2 || args[1].rfind("--", 0) == 0) {
    err << kWorkloadHelp;
    return 2;
  }
  const std::string& name = args[1];
  std::vector<system::PvOpsKind> kinds = {system::PvOpsKind::kXen, system::PvOpsKind::kNative};
  uint64_t iterations = 20, warmup = 2, vcpus = 1, memory_mib = 128, hz = 0;
  std::string clock_profile = kDefaultClockProfile;
  system::GuestSystemConfig base;
  workload::Params params;
  bool trace = false;
  bool host_memory = false;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--trace") {
      trace = true;
      continue;
    }
    if (flag == "--host-memory") {
      host_memory = true;
      continue;
    }
    if (flag == "--caching-mode") {
      base.iommu_params.caching_mode = true;
      continue;
    }
    if (i + 1 >= args.size()) throw InputError(flag + " needs a value (see --help)");
    const std::string& v = args[++i];
    if (flag == "--pvops") {
      kinds.clear();
      for (const auto& n : split(v, ',')) kinds.push_back(system::pvops_by_name(n));
    } else if (flag == "--iterations") {
      iterations = parse_u64(flag, v);
    } else if (flag == "--warmup") {
      warmup = parse_u64(flag, v);
    } else if (flag == "--vcpus") {
      vcpus = parse_u64(flag, v);
    } else if (flag == "--memory-mib") {
      memory_mib = parse_u64(flag, v);
    } else if (flag == "--xen") {
      base.xen_generation = xen::xen_generation_by_name(v);
    } else if (flag == "--linux") {
      base.linux_generation = guest::linux_generation_by_name(v);
    } else if (flag == "--iommu") {
      base.iommu = xen::iommu_mode_by_name(v);
    } else if (flag == "--pibooster") {
      using PB = system::GuestSystemConfig::PiBooster;
      if (v == "off") {
        base.pibooster = PB::kOff;
      } else if (v == "full") {
        base.pibooster = PB::kFull;
      } else if (v == "cache") {
        base.pibooster = PB::kCacheOnly;
      } else if (v == "validation") {
        base.pibooster = PB::kValidationOnly;
      } else {
        throw InputError("--pibooster: expected off, full, cache or validation, got '" + v + "'");
      }
    } else if (flag == "--randomize-va-space") {
      const uint64_t level = parse_u64(flag, v);
      if (level > 2) throw InputError("--randomize-va-space must be 0, 1 or 2");
      base.randomize_va_space = static_cast<int>(level);
    } else if (flag == "--seed") {
      base.seed = parse_u64(flag, v);
    } else if (flag == "--hz") {
      hz = parse_u64(flag, v);
      if (hz == 0 || hz > 10000) throw InputError("--hz must be 1..10000");
    } else if (flag == "--clock-profile") {
      clock_profile = v;
    } else if (flag == "--clock-scale") {
      base.clock_scale = parse_positive_double(flag, v);
    } else if (flag == "--param") {
      const auto eq = v.find('=');
      if (eq == std::string::npos || eq == 0)
        throw InputError("--param expects KEY=VALUE, got '" + v + "'");
      params.set(v.substr(0, eq), v.substr(eq + 1));
    } else {
      throw InputError("unknown option '" + flag + "' (see pibooster workload --help)");
    }
  }
  if (iterations == 0) throw InputError("--iterations must be at least 1");
  if (vcpus == 0 || vcpus > kMaxCpus) {
    throw InputError("--vcpus must be 1.." + std::to_string(kMaxCpus));
  }
  if (memory_mib < 16 || memory_mib > 65536) throw InputError("--memory-mib must be 16..65536");
  base.vcpus = static_cast<uint32_t>(vcpus);
  if (hz != 0) {
    base.clock = cost::unit_costs(cost::find_profile(clock_profile));
    base.hz = static_cast<uint32_t>(hz);
  } else if (clock_profile != kDefaultClockProfile || base.clock_scale != 1.0) {
    throw InputError("--clock-profile and --clock-scale need --hz");
  }
  const workload::WorkloadInfo info = workload::workload_info(name);
  base.nic = info.nic;
  base.disk = info.disk;
  base.guest_pages = memory_mib * kPagesPerMiB;

  std::vector<workload::RunResult> results;
  std::vector<workload::HostMemoryFigures> memory;
  for (const auto kind : kinds) {
    system::GuestSystemConfig cfg = base;
    cfg.pvops = kind;
    workload::HostMemoryProbe probe;
    if (host_memory) probe.start();
    system::GuestSystem sys(cfg);
    auto w = workload::make_workload(name, params);
    w->set_seed(cfg.seed);
    if (host_memory) probe.attach(*w);
    if (trace && kind == system::PvOpsKind::kXen) {
      out << "hypercall trace of the last " << w->operation() << " (xen):\n";
    }
    results.push_back(workload::run(sys, *w, name, iterations, warmup,
                                    trace && kind == system::PvOpsKind::kXen ? &out : nullptr));
    if (host_memory) {
      if (!probe.sampled()) probe.sample(sys);  // a workload without a marked peak: at the end
      memory.push_back(probe.finish());
    }
    const auto problems = sys.audit();
    if (!problems.empty()) {
      err << "pibooster: hypervisor audit failed after the run: " << problems.front() << "\n";
      return 1;
    }
  }
  out << "workload " << name << ": " << iterations << " x " << results.front().operation
      << " (after " << warmup << " warm-up), " << vcpus << " vCPU(s), " << memory_mib
      << " MiB\nmean per operation:\n";
  out << std::left << std::setw(36) << "counter";
  for (const auto kind : kinds) out << std::right << std::setw(14) << system::name_of(kind);
  out << "\n";
  for (const auto& e : sim::kEventTable) {
    bool any = false;
    for (const auto& r : results) any = any || r.total[static_cast<std::size_t>(e.event)] != 0;
    if (!any) continue;
    out << std::left << std::setw(36) << e.name;
    for (const auto& r : results)
      out << std::right << std::setw(14) << fixed2(r.mean_x100(e.event));
    out << "\n";
  }
  for (std::size_t i = 0; i < memory.size(); ++i) print_host_memory(out, kinds[i], memory[i]);
  return 0;
}

}  // namespace pib::app
