// SPDX-License-Identifier: MIT
// Every workload runs under both pv-ops, leaves the hypervisor consistent, and is deterministic.
#include <gtest/gtest.h>

#include <cstdlib>

#include "common/error.hpp"
#include "support/guest_fixture.hpp"
#include "workload/workload.hpp"

namespace pib {
namespace {

class Workloads : public ::testing::TestWithParam<std::tuple<std::string, system::PvOpsKind>> {};

TEST_P(Workloads, RunCleanAndDeterministically) {
  const auto& [name, kind] = GetParam();
  if (workload::workload_info(name).save_restore && kind == system::PvOpsKind::kNative) {
    // A native kernel has no hypervisor to save it: the workload says so before it starts.
    system::GuestSystem sys(test::guest_config(kind, 2, 16384, xen::XenGeneration::kModern));
    auto w = workload::make_workload(name, {});
    EXPECT_THROW(workload::run(sys, *w, name, 1, 0), InputError);
    return;
  }
  auto once = [&] {
    auto cfg = test::guest_config(kind, 2, 16384, xen::XenGeneration::kModern);
    const auto info = workload::workload_info(name);
    cfg.nic = info.nic;
    cfg.disk = info.disk;
    cfg.save_restore_room = info.save_restore;
    cfg.iommu = xen::IommuMode::kSync;
    system::GuestSystem sys(cfg);
    workload::Params params;
    // A replay needs a trace: the shipped shell-pipeline sample.
    if (name == "trace.replay") {
      params.set("trace",
                 std::string(std::getenv("PIB_SOURCE_DIR")) + "/data/traces/sh-pipeline.jsonl");
    }
    auto w = workload::make_workload(name, params);
    auto r = workload::run(sys, *w, name, 3, 1);
    EXPECT_EQ(sys.audit(), std::vector<std::string>{});
    return r.total;
  };
  const auto first = once();
  const auto info = workload::workload_info(name);
  if (info.nic || info.disk) {
    EXPECT_GT(first[static_cast<std::size_t>(sim::Event::kGuestDriverRequests)], 0u);
    EXPECT_EQ(first[static_cast<std::size_t>(sim::Event::kHwIommuFault)], 0u);
  } else if (info.save_restore) {
    // Nothing is allocated or freed; the restore pins every table the domain had pinned.
    EXPECT_EQ(first[static_cast<std::size_t>(sim::Event::kGuestPtAllocL1)], 0u);
    EXPECT_GT(first[static_cast<std::size_t>(sim::Event::kXenValidateTables)], 0u);
  } else if (name == "cpu.touch") {
    // Once warm, a CPU-bound program never enters the kernel.
    EXPECT_EQ(first[static_cast<std::size_t>(sim::Event::kGuestKernelEntry)], 0u);
    EXPECT_EQ(first[static_cast<std::size_t>(sim::Event::kXenEntry)], 0u);
  } else {
    EXPECT_GT(first[static_cast<std::size_t>(sim::Event::kGuestPtAllocL1)], 0u);
  }
  // Every L1 allocated is freed, except that exec's shift_arg_pages frees the argument stack's
  // first L1 through RCU: with two vCPUs the last exec's may still wait for its grace period.
  const uint64_t l1_alloc = first[static_cast<std::size_t>(sim::Event::kGuestPtAllocL1)];
  const uint64_t l1_free = first[static_cast<std::size_t>(sim::Event::kGuestPtFreeL1)];
  EXPECT_GE(l1_alloc, l1_free);
  EXPECT_LE(l1_alloc - l1_free, 1u);
  EXPECT_EQ(once(), first);
}

std::vector<std::string> names() {
  std::vector<std::string> out;
  for (const auto& w : workload::workload_catalog()) out.push_back(w.name);
  return out;
}

INSTANTIATE_TEST_SUITE_P(All, Workloads,
                         ::testing::Combine(::testing::ValuesIn(names()),
                                            ::testing::Values(system::PvOpsKind::kXen,
                                                              system::PvOpsKind::kNative)),
                         [](const auto& param_info) {
                           std::string n =
                               std::get<0>(param_info.param) + "_" +
                               std::string(system::name_of(std::get<1>(param_info.param)));
                           for (char& c : n) {
                             if (c == '.') c = '_';
                           }
                           return n;
                         });

TEST(WorkloadParams, UnknownKeysAndBadValuesAreNamed) {
  workload::Params p;
  p.set("colour", "blue");
  try {
    workload::make_workload("lat_proc.fork", p);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("colour"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("parent_stack_writes"), std::string::npos);
  }
  workload::Params q;
  q.set("copies", "many");
  EXPECT_THROW(workload::make_workload("unixbench.shell8", q), InputError);
  EXPECT_THROW(workload::make_workload("no.such", workload::Params{}), InputError);
}

}  // namespace
}  // namespace pib
