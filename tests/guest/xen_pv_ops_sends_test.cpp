// SPDX-License-Identifier: MIT
// What the Xen pv-ops send, seen through a fake hypercall port: the guest kernel on its own,
// checked against the sequences xen-pv-mmu.md B gives, and its reaction when Xen refuses.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/error.hpp"
#include "guest/kernel.hpp"
#include "guest/xen/xen_pv_ops.hpp"
#include "hw/machine.hpp"
#include "support/fake_hypercall_port.hpp"
#include "xen/domain_builder.hpp"
#include "xen/hypervisor.hpp"

namespace pib::test {
namespace {

using abi::HypercallNr;

// A PV guest kernel whose every hypercall passes through the fake.
class GuestOnFakePort : public ::testing::Test {
 protected:
  GuestOnFakePort()
      : machine_(machine_params(), ledger_),
        xen_(machine_, ledger_, xen::XenParams{xen::XenGeneration::kModern}),
        si_(xen::build_pv_domain(xen_, xen::PvDomainSpec{.pages = 4096})),
        port_(xen_),
        ops_(port_, si_),
        kernel_(ops_, ledger_) {}

  static hw::MachineParams machine_params() {
    hw::MachineParams p;
    p.frames = 8192;
    return p;
  }
  // The mmuext commands of a multicall, in order.
  static std::vector<uint32_t> mmuext_cmds(const FakeHypercallPort::Call& c) {
    std::vector<uint32_t> out;
    for (const auto& e : c.entries) {
      for (const auto& op : e.mmuext_ops) out.push_back(op.cmd);
    }
    return out;
  }

  sim::Ledger ledger_;
  hw::Machine machine_;
  xen::Hypervisor xen_;
  abi::StartInfo si_;
  FakeHypercallPort port_;
  guest::XenPvOps ops_;
  guest::Kernel kernel_;
};

TEST_F(GuestOnFakePort, ForkPinsTheNewTreeInOneMulticallEndingWithBothL4Pins) {
  const auto img = guest::builtin_image("lmbench-hello");
  const guest::Pid parent = kernel_.spawn(img);
  kernel_.run_startup(parent, img);
  port_.clear();
  kernel_.fork(parent);
  // xen_pgd_pin: the tree's read-only remaps and L1 pins, then the kernel and user L4 pins,
  // queued together and sent as one multicall.
  const auto& calls = port_.calls();
  const auto pin = std::find_if(calls.begin(), calls.end(), [](const auto& c) {
    const auto cmds = mmuext_cmds(c);
    return c.op == HypercallNr::kMulticall &&
           std::count(cmds.begin(), cmds.end(), abi::kMmuextPinL4Table) == 2;
  });
  ASSERT_NE(pin, calls.end());
  const auto cmds = mmuext_cmds(*pin);
  ASSERT_GE(cmds.size(), 3u);
  EXPECT_EQ(cmds.back(), abi::kMmuextPinL4Table);
  EXPECT_GT(std::count(cmds.begin(), cmds.end(), abi::kMmuextPinL1Table), 0);
  std::size_t remaps = 0;
  for (const auto& e : pin->entries) remaps += e.op == HypercallNr::kUpdateVaMapping ? 1 : 0;
  EXPECT_GT(remaps, 0u) << "every table is made read-only before it is pinned";
}

TEST_F(GuestOnFakePort, AnMmuextOpXenRefusesDuringForkIsAModelBugNotIgnored) {
  const auto img = guest::builtin_image("lmbench-hello");
  const guest::Pid parent = kernel_.spawn(img);
  kernel_.run_startup(parent, img);
  port_.refuse_next(HypercallNr::kMmuextOp, abi::err::kEINVAL);
  EXPECT_THROW(kernel_.fork(parent), ModelBug);
}

}  // namespace
}  // namespace pib::test
