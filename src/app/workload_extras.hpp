// SPDX-License-Identifier: MIT
// What `pibooster workload` can show beside a run's results: the hypercalls of the last
// operation of every policy that runs on Xen (--trace) and the simulator's own memory against
// the guest memory touched (--host-memory). Both watch the run; its counts do not change.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "scenario/runner.hpp"
#include "workload/host_memory.hpp"

namespace pib::app {

class WorkloadExtras final : public scenario::RunObserver {
 public:
  WorkloadExtras(std::ostream& trace_out, bool trace, bool host_memory,
                 std::vector<std::string> policies);

  void before_system(std::size_t policy) override;
  void system_ready(std::size_t policy, system::GuestSystem& sys, workload::Workload& w) override;
  void before_iteration(std::size_t policy, uint64_t i, uint64_t n,
                        system::GuestSystem& sys) override;
  void after_iteration(std::size_t policy, uint64_t i, uint64_t n,
                       system::GuestSystem& sys) override;
  void policy_done(std::size_t policy, system::GuestSystem& sys) override;

  // One line per policy: resident-set growth against guest memory touched.
  void print_host_memory(std::ostream& out) const;

 private:
  std::ostream& trace_out_;
  bool trace_;
  bool host_memory_;
  std::vector<std::string> policies_;
  std::string operation_;
  workload::HostMemoryProbe probe_;
  std::vector<workload::HostMemoryFigures> memory_;
};

}  // namespace pib::app
