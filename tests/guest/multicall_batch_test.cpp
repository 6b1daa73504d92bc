// SPDX-License-Identifier: MIT
// Linux's multicall buffer limits (xen-pv-mmu.md B3): 32 entries, a 512-byte argument area
// (31 mmu_update requests or 21 mmuext ops per batch), 32 callbacks; one entry goes direct.
#include "guest/xen/multicall_batch.hpp"

#include <gtest/gtest.h>

namespace pib {
namespace {

using guest::LazyMode;
using guest::MulticallBatch;

// Records what reaches the hypervisor.
struct RecordingPort final : abi::HypervisorPort {
  std::vector<std::string> calls;
  int64_t mmu_update(VcpuId, std::span<const abi::MmuUpdate> r, uint32_t*, abi::ForeignDom) override {
    calls.push_back("mmu_update:" + std::to_string(r.size()));
    return 0;
  }
  int64_t mmuext_op(VcpuId, std::span<const abi::MmuextOp> o, uint32_t*, abi::ForeignDom) override {
    calls.push_back("mmuext_op:" + std::to_string(o.size()));
    return 0;
  }
  int64_t update_va_mapping(VcpuId, const abi::UpdateVaMapping&) override {
    calls.push_back("update_va_mapping");
    return 0;
  }
  int64_t multicall(VcpuId, std::span<abi::MulticallEntry> e) override {
    calls.push_back("multicall:" + std::to_string(e.size()));
    return 0;
  }
  hw::MemResult guest_access(VcpuId, const hw::MemRequest&) override { return {}; }
  hw::LoadRun guest_load_run(VcpuId, Vaddr, uint32_t, uint64_t, uint64_t*) override { return {}; }
  int64_t switch_guest_mode(VcpuId, bool) override { return 0; }
  int64_t memory_op(VcpuId, uint32_t, abi::MemoryReservation&) override { return 0; }
  int64_t vcpu_op(VcpuId, uint32_t, uint64_t) override { return 0; }
  int64_t sched_shutdown(VcpuId, uint32_t) override { return 0; }
  uint64_t system_time_ns(VcpuId) const override { return 0; }
  uint32_t take_pending_virqs(VcpuId) override { return 0; }
  Pfn machine_to_phys(Mfn m) const override { return Pfn{m.value}; }
};

struct BatchTest : ::testing::Test {
  RecordingPort port;
  sim::Ledger ledger;
  MulticallBatch batch{port, ledger, 0};
};

TEST_F(BatchTest, ThirtyOneMmuUpdateRequestsFillTheArgumentArea) {
  for (int i = 0; i < 40; ++i) batch.extend_mmu_update(abi::MmuUpdate{uint64_t(i) * 8, 0});
  batch.flush();
  EXPECT_EQ(port.calls, (std::vector<std::string>{"mmu_update:31", "mmu_update:9"}));
}

TEST_F(BatchTest, TwentyOneMmuextOpsPerBatch) {
  for (int i = 0; i < 22; ++i) batch.extend_mmuext_op(abi::MmuextOp{abi::kMmuextUnpinTable, 1, 0});
  batch.flush();
  EXPECT_EQ(port.calls, (std::vector<std::string>{"mmuext_op:21", "mmuext_op:1"}));
}

TEST_F(BatchTest, ThirtyTwoEntriesThenAFlushAndSingletonsGoDirect) {
  for (int i = 0; i < 33; ++i) batch.update_va_mapping(Vaddr{uint64_t(i) << 12}, hw::Pte{}, 0);
  batch.flush();
  EXPECT_EQ(port.calls, (std::vector<std::string>{"multicall:32", "update_va_mapping"}));
  EXPECT_EQ(ledger.count(sim::Event::kGuestMcIssuedDirect), 1u);
}

TEST_F(BatchTest, ExtensionOnlyJoinsTheSameHypercall) {
  batch.extend_mmuext_op(abi::MmuextOp{abi::kMmuextUnpinTable, 1, 0});
  batch.extend_mmuext_op(abi::MmuextOp{abi::kMmuextUnpinTable, 2, 0});
  batch.update_va_mapping(Vaddr{0}, hw::Pte{}, 0);
  batch.extend_mmuext_op(abi::MmuextOp{abi::kMmuextUnpinTable, 3, 0});
  batch.flush();
  EXPECT_EQ(port.calls, (std::vector<std::string>{"multicall:3"}));
}

TEST_F(BatchTest, LazyModeDefersIssueAndCallbacksRunAfterTheFlush) {
  int ran = 0;
  batch.set_lazy(LazyMode::kMmu);
  batch.extend_mmu_update(abi::MmuUpdate{8, 0});
  batch.callback([&] { ++ran; });
  batch.issue(LazyMode::kMmu);
  EXPECT_TRUE(port.calls.empty());
  EXPECT_EQ(ran, 0);
  batch.issue(LazyMode::kNone);
  EXPECT_EQ(port.calls, (std::vector<std::string>{"mmu_update:1"}));
  EXPECT_EQ(ran, 1);
}

TEST_F(BatchTest, ThirtyThreeCallbacksForceAFlush) {
  batch.extend_mmuext_op(abi::MmuextOp{abi::kMmuextTlbFlushLocal, 0, 0});
  for (int i = 0; i < 32; ++i) batch.callback([] {});
  EXPECT_TRUE(port.calls.empty());
  batch.callback([] {});  // the 33rd callback does not fit: the batch goes out first
  EXPECT_EQ(port.calls, (std::vector<std::string>{"mmuext_op:1"}));
}

}  // namespace
}  // namespace pib
