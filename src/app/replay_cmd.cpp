// SPDX-License-Identifier: MIT
#include "app/replay_cmd.hpp"

#include <iomanip>
#include <ostream>
#include <sstream>

#include "app/args.hpp"
#include "app/run_options.hpp"
#include "app/safe_write.hpp"
#include "app/version.hpp"
#include "common/error.hpp"
#include "cost/cost_model.hpp"
#include "scenario/scenario.hpp"
#include "workload/trace_replay.hpp"

namespace pib::app {

namespace {

const char* const kReplayUsage = R"(usage: pibooster replay TRACE [options]

Rebuilds the processes of TRACE (written by 'pibooster capture', or a snapshot JSON written by
'pibooster snapshot', which is a one-process trace) on the guest model and replays its events in
order under each policy: forks, execs with the captured layout, the memory calls with their
captured addresses, exits; between capture points each process touches the pages the capture
found present. At every capture point the model's page-table pages are compared with the
recorded VmPTE; every mismatch is listed with its record, process and event (exit status 1).
Prints what 'pibooster run' prints (one operation = the whole trace), then the footprint checks
and the modeled time per kind of event, the policies side by side.

  --op OP             for a snapshot: fork_exit (default) or exit
  --memory-mib N      [machine] memory_mib: guest memory (default 512)
  --vcpus N           [machine] vcpus (default 1)
  --iommu MODE        [machine] iommu: none (default), sync or relaxed
  --xen GEN           [xen] generation: modern (default) or paper-era
  --randomize-va-space N  only what the model's own placement uses (the captured addresses
                      are kept either way)

as in 'pibooster run' (defaults here: --compare baseline,pibooster,native, 1 iteration, no
warm-up, no output directory; with --out DIR also replay.csv and replay-programs.csv, the
two tables below):
)";

constexpr KeyFlag kReplayKeyFlags[] = {
    {"--memory-mib", "machine.memory_mib"},
    {"--vcpus", "machine.vcpus"},
    {"--iommu", "machine.iommu"},
    {"--xen", "xen.generation"},
    {"--randomize-va-space", "guest.randomize_va_space"},
};

// Keeps each policy's replay report (the workload object lives only inside the run).
class ReplayCollector final : public scenario::RunObserver {
 public:
  void system_ready(std::size_t policy, system::GuestSystem& sys, workload::Workload& w) override {
    (void)sys;
    current_ = dynamic_cast<workload::ReplayWorkload*>(&w);
    if (reports.size() <= policy) reports.resize(policy + 1);
  }
  void policy_done(std::size_t policy, system::GuestSystem& sys) override {
    (void)sys;
    if (current_ != nullptr) reports.at(policy) = current_->report();
  }
  std::vector<workload::ReplayReport> reports;

 private:
  workload::ReplayWorkload* current_ = nullptr;
};

std::string per_kind_table(const scenario::RunOutput& run,
                           const std::vector<workload::ReplayReport>& reports, bool csv) {
  std::ostringstream o;
  if (csv) {
    o << "kind,events";
    for (const auto& r : run.results) o << "," << r.policy << "_us," << r.policy << "_hypercalls";
    o << "\n";
  } else {
    o << "per kind of event (modeled us, all processes; hypercalls in brackets)\n  " << std::left
      << std::setw(10) << "kind" << std::right << std::setw(8) << "events";
    for (const auto& r : run.results) o << std::setw(24) << r.policy;
    o << "\n";
  }
  auto hypercalls = [](const cost::Counts& c) {
    uint64_t n = 0;
    for (std::size_t e = 0; e < c.size(); ++e) {
      const auto& info = sim::kEventTable[e];
      if (std::string_view(info.name).rfind("xen.hypercall.", 0) == 0 &&
          std::string_view(info.name).find('.', 14) == std::string_view::npos) {
        n += c[e];
      }
    }
    return n;
  };
  std::vector<double> totals(run.results.size(), 0.0);
  for (std::size_t k = 0; k < workload::kReplayKinds; ++k) {
    const auto kind = static_cast<workload::ReplayKind>(k);
    const uint64_t events = reports.empty() ? 0 : reports.front().events[k];
    if (events == 0) continue;
    if (csv) {
      o << workload::replay_kind_name(kind) << "," << events;
    } else {
      o << "  " << std::left << std::setw(10) << workload::replay_kind_name(kind) << std::right
        << std::setw(8) << events;
    }
    for (std::size_t p = 0; p < run.results.size(); ++p) {
      const cost::Counts& c = reports.at(p).counts[k];
      const double us = cost::modeled_ns(c, run.profile) / 1000.0;
      totals[p] += us;
      std::ostringstream cell;
      cell << std::fixed << std::setprecision(1) << us << " [" << hypercalls(c) << "]";
      if (csv) {
        o << "," << std::fixed << std::setprecision(3) << us << "," << hypercalls(c);
      } else {
        o << std::setw(24) << cell.str();
      }
    }
    o << "\n";
  }
  if (!csv) {
    o << "  " << std::left << std::setw(18) << "total";
    for (double t : totals) {
      std::ostringstream cell;
      cell << std::fixed << std::setprecision(1) << t;
      o << std::right << std::setw(24) << cell.str();
    }
    o << "\n";
  }
  return o.str();
}

// Per program: the file each process exec'd (a forked child counts to its parent's program
// until it execs), modeled us per policy.
std::string per_program_table(const scenario::RunOutput& run,
                              const std::vector<workload::ReplayReport>& reports, bool csv) {
  std::ostringstream o;
  if (reports.empty()) return {};
  if (csv) {
    o << "program,execs";
    for (const auto& r : run.results) o << "," << r.policy << "_us";
    o << "\n";
  } else {
    o << "per program (modeled us; its processes' events and faults)\n";
  }
  for (const auto& [name, totals] : reports.front().programs) {
    if (csv) {
      o << '"' << name << "\"," << totals.execs;
    } else {
      o << "  " << std::left << std::setw(40) << name << std::right << std::setw(6) << totals.execs
        << " exec(s)";
    }
    for (std::size_t p = 0; p < run.results.size() && p < reports.size(); ++p) {
      const auto it = reports[p].programs.find(name);
      const double us = it == reports[p].programs.end()
                            ? 0.0
                            : cost::modeled_ns(it->second.counts, run.profile) / 1000.0;
      o << (csv ? "," : "  ") << std::fixed << std::setprecision(csv ? 3 : 1)
        << (csv ? std::setw(0) : std::setw(14)) << us;
    }
    o << "\n";
  }
  return o.str();
}

// The footprint checks and what the replay could not reproduce exactly; false on a mismatch.
bool print_checks(std::ostream& out, const scenario::RunOutput& run,
                  const std::vector<workload::ReplayReport>& reports) {
  bool all_equal = true;
  for (std::size_t p = 0; p < reports.size() && p < run.results.size(); ++p) {
    const workload::ReplayReport& r = reports[p];
    out << "footprint checks, " << run.results[p].policy << ": " << r.checks - r.mismatch_count
        << " of " << r.checks << " equal the recorded VmPTE";
    out << " (" << r.processes << " processes, " << r.pages_touched << " pages touched";
    if (r.pages_outside != 0)
      out << ", " << r.pages_outside << " present pages outside every mapping";
    if (r.pages_read_only != 0)
      out << ", " << r.pages_read_only << " written pages only readable now";
    out << ")\n";
    for (const auto& m : r.mismatches) {
      out << "  mismatch: line " << m.line << ", process " << m.pid << ", " << m.event << ": model "
          << m.model_pages << " page-table pages, recorded " << m.recorded_pages << "\n";
    }
    if (r.mismatch_count > r.mismatches.size()) {
      out << "  ... and " << r.mismatch_count - r.mismatches.size() << " more\n";
    }
    for (const auto& [what, n] : r.approximations)
      out << "  approximated: " << n << " " << what << "\n";
    for (const auto& why : r.refusals) out << "  refused: " << why << "\n";
    if (r.refusal_count > r.refusals.size()) {
      out << "  ... and " << r.refusal_count - r.refusals.size() << " more refusals\n";
    }
    all_equal = all_equal && r.mismatch_count == 0 && r.refusal_count == 0;
  }
  return all_equal;
}

}  // namespace

std::string replay_help() {
  return std::string(kReplayUsage) + run_options_help();
}

int cmd_replay(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() < 2 || args[1].rfind("--", 0) == 0) {
    err << replay_help();
    return 2;
  }
  scenario::Scenario sc;
  sc.name = "replay";
  sc.origin = "pibooster replay";
  sc.iterations = 1;
  sc.warmup = 0;
  sc.workload.name = "trace.replay";
  sc.workload.params.set("trace", args[1]);
  sc.set("machine.memory_mib", "512", "replay default");
  sc.policies = {"baseline", "pibooster", "native"};
  RunOptions options;
  for (std::size_t i = 2; i < args.size(); ++i) {
    if (options.take(args, i)) continue;
    const char* key = key_of_flag(kReplayKeyFlags, args[i]);
    if ((key != nullptr || args[i] == "--op") && i + 1 < args.size()) {
      if (key != nullptr) {
        sc.set(key, args[i + 1], args[i]);
      } else {
        sc.workload.params.set("op", args[i + 1]);
      }
      ++i;
      continue;
    }
    throw InputError("unknown option '" + args[i] + "' (see pibooster replay --help)");
  }
  options.apply(sc);
  // Reads and checks the trace once before any system is built (errors name line and field).
  const workload::ReplayWorkload probe(sc.workload.params);
  sc.description = probe.operation();
  ReplayCollector collector;
  const scenario::RunOutput run =
      scenario::run_scenario(sc, options.load_profile(), {}, &collector);
  const report::Uncertainty u = report::analyse(run);
  options.report.uncertainty = &u;
  options.report.tool_version = tool_version();
  if (!options.out_dir.empty()) {
    const Written w = write_outputs(options.out_dir, run, options);
    write_file_nofollow(w.dir + "/replay.csv", per_kind_table(run, collector.reports, true));
    write_file_nofollow(w.dir + "/replay-programs.csv",
                        per_program_table(run, collector.reports, true));
    err << w.note() << "\n";
  }
  print_results(out, run, options);
  const trace::Header& h = probe.trace().header;
  out << "\ntrace " << probe.trace().origin << ": " << probe.trace().records.size() << " records";
  if (!h.kernel.empty()) out << ", captured on Linux " << h.kernel;
  if (!h.thp.empty()) out << " (transparent huge pages: " << h.thp << ")";
  out << "\n";
  if (h.thp == "always") {
    out << "note: the capturing machine could back anonymous memory with 2 MiB pages; the model "
           "maps 4 KiB pages only, so VmPTE may be lower than the model's tables\n";
  }
  const bool equal = print_checks(out, run, collector.reports);
  out << per_kind_table(run, collector.reports, false);
  out << per_program_table(run, collector.reports, false);
  for (const auto& r : run.results) {
    if (!r.audit.empty()) {
      err << "pibooster: hypervisor audit of " << r.policy
          << " failed after the run: " << r.audit.front() << "\n";
      return 1;
    }
  }
  return equal ? 0 : 1;
}

}  // namespace pib::app
