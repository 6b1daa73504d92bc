// SPDX-License-Identifier: MIT
#include "app/workload_extras.hpp"

#include <iomanip>
#include <sstream>

namespace pib::app {

namespace {

std::string mib(uint64_t bytes) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << static_cast<double>(bytes) / (1024.0 * 1024.0)
    << " MiB";
  return s.str();
}

}  // namespace

WorkloadExtras::WorkloadExtras(std::ostream& trace_out, bool trace, bool host_memory,
                               std::vector<std::string> policies)
    : trace_out_(trace_out),
      trace_(trace),
      host_memory_(host_memory),
      policies_(std::move(policies)) {}

void WorkloadExtras::before_system(std::size_t /*policy*/) {
  if (!host_memory_) return;
  probe_ = {};
  probe_.start();  // from before the system is built
}

void WorkloadExtras::system_ready(std::size_t /*policy*/, system::GuestSystem& /*sys*/,
                                  workload::Workload& w) {
  operation_ = w.operation();
  if (host_memory_) probe_.attach(w);
}

void WorkloadExtras::before_iteration(std::size_t policy, uint64_t i, uint64_t n,
                                      system::GuestSystem& sys) {
  if (!trace_ || i + 1 != n || sys.hypervisor() == nullptr) return;
  trace_out_ << "hypercall trace of the last " << operation_ << " (" << policies_.at(policy)
             << "):\n";
  sys.trace_hypercalls(&trace_out_);
}

void WorkloadExtras::after_iteration(std::size_t /*policy*/, uint64_t /*i*/, uint64_t /*n*/,
                                     system::GuestSystem& sys) {
  if (trace_) sys.trace_hypercalls(nullptr);
}

void WorkloadExtras::policy_done(std::size_t /*policy*/, system::GuestSystem& sys) {
  if (!host_memory_) return;
  if (!probe_.sampled()) probe_.sample(sys);  // a workload without a marked peak: at the end
  memory_.push_back(probe_.finish());
}

void WorkloadExtras::print_host_memory(std::ostream& out) const {
  for (std::size_t i = 0; i < memory_.size(); ++i) {
    const workload::HostMemoryFigures& f = memory_[i];
    std::ostringstream ratio;
    ratio << std::fixed << std::setprecision(2) << f.ratio();
    out << "host memory (" << policies_.at(i) << "): " << mib(f.host_growth())
        << " resident-set growth at the peak (high-water " << mib(f.hwm_growth) << ") for "
        << mib(f.touched_bytes()) << " of guest memory touched (" << f.touched_frames
        << " frames holding data; " << f.guest_pages_in_use << " guest pages in use): ratio "
        << ratio.str() << "\n";
  }
}

}  // namespace pib::app
