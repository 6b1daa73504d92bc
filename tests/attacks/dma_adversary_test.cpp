// SPDX-License-Identifier: MIT
// PiBooster's pool interface under a DMA adversary (xen/dma_adversary.hpp): devices act
// between any two steps of a hypercall, through the IOMMU and its IOTLB as cached, and a test
// plays a second vCPU at the reentrant steps. Each case runs the fixed interface (`pibooster`)
// and the one first built (`pibooster-2016`, kept unsound) on both Xen generations: the same
// soundness check passes on the first and is shown to fail on the second, where the device's
// write into a validated page table lands.
#include "xen/dma_adversary.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <optional>

#include "pibooster/xen/pt_pool_validation.hpp"
#include "pibooster/xen/pt_pool_validation_2016.hpp"
#include "support/pv_fixture.hpp"

namespace pib::test {
namespace {

using xen::Step;
using xen::XenGeneration;

enum class Design { kFixed, k2016 };

// Runs `action` once, at the first reentrant point of `step` for `mfn` on `vcpu`.
class AtStep final : public xen::InterleavingObserver {
 public:
  AtStep(Step step, Mfn mfn, VcpuId vcpu, std::function<void()> action)
      : step_(step), mfn_(mfn), vcpu_(vcpu), action_(std::move(action)) {}
  void at(xen::Hypervisor& xen, const xen::InterleavingPoint& p) override {
    (void)xen;
    if (done_ || !p.reentrant || p.step != step_ || p.mfn != mfn_ || p.vcpu != vcpu_) return;
    done_ = true;
    action_();
  }
  bool done() const { return done_; }

 private:
  Step step_;
  Mfn mfn_;
  VcpuId vcpu_;
  std::function<void()> action_;
  bool done_ = false;
};

// A small domain with IOMMU sync, a device, two vCPUs and the design's pool interface; the
// adversary attacks with a device-written PTE that maps the domain's own root table writable
// (what validation exists to refuse).
struct Machine {
  Machine(Design design, XenGeneration gen)
      : fx({.cpus = 2,
            .vcpus = 2,
            .generation = gen,
            .iommu = xen::IommuMode::kSync,
            .policy = [design]() -> std::unique_ptr<xen::ValidationPolicy> {
              if (design == Design::kFixed) return std::make_unique<pibooster::PtPoolValidation>();
              return std::make_unique<pibooster::PtPoolValidation2016>();
            },
            .dma_device = true}),
        adversary({.mode = xen::DmaAdversaryMode::kAttack,
                   .device = kDmaDevice,
                   .entry = kEntry,
                   .payload = fx.pte(fx.si.pt_base, kDataRw)}) {}
  ~Machine() { fx.xen.set_interleaving_observer(nullptr); }

  static constexpr uint64_t kEntry = 5;
  hw::Iommu& iommu() { return *fx.machine.iommu(); }
  // The device touches the frame, so that the IOTLB holds its (writable) translation.
  void warm_iotlb(Pfn p) {
    ASSERT_TRUE(iommu().dma_u64(kDmaDevice, fx.mfn(p).value << kPageShift, false).ok);
  }
  bool iotlb_holds(Pfn p) {
    return iommu().cached_entry(0, fx.mfn(p).value << kPageShift).has_value();
  }
  void watch(AtStep* also = nullptr) {
    adversary.chain(also);
    fx.xen.set_interleaving_observer(&adversary);
  }
  int64_t batch(std::initializer_list<abi::MmuextOp> ops, VcpuId v = 0) {
    const std::vector<abi::MmuextOp> list(ops);
    uint32_t done = 0;
    return fx.xen.mmuext_op(v, list, &done, abi::kDomidSelf);
  }
  abi::MmuextOp add(Pfn p) { return {abi::kMmuextPtPoolAdd, fx.mfn(p).value, 0}; }
  abi::MmuextOp remove(Pfn p) { return {abi::kMmuextPtPoolRemove, fx.mfn(p).value, 0}; }
  abi::MmuextOp pin_l1(Pfn p) { return {abi::kMmuextPinL1Table, fx.mfn(p).value, 0}; }
  uint64_t attacked_entry(Pfn p) { return fx.machine.memory().read_entry(fx.mfn(p), kEntry); }
  uint64_t io_entry(Pfn p) { return fx.xen.iommu_entry(fx.xen.domain(0), fx.mfn(p)); }

  PvFixture fx;
  xen::DmaAdversary adversary;
  uint64_t inv_before = 0;  // invalidations counted before the case's hypercall
  uint64_t dom_inv_before = 0;
};

// What the soundness check looks at after a case.
struct Outcome {
  uint64_t violations = 0;
  uint64_t landed = 0;
  uint64_t attacked_entry = 0;
  std::vector<std::string> findings;
  std::vector<std::string> audit;
};
Outcome outcome(Machine& m, Pfn target) {
  return {m.adversary.violations(), m.adversary.writes_landed(), m.attacked_entry(target),
          m.adversary.findings(), m.fx.audit()};
}
// Sound: no finding at any step, no device write landed, the table untouched, Xen's state clean.
bool sound(const Outcome& o) {
  return o.violations == 0 && o.landed == 0 && o.attacked_entry == 0 && o.audit.empty();
}
void expect_sound(const Outcome& o) {
  EXPECT_TRUE(sound(o)) << ::testing::PrintToString(o.findings)
                        << ::testing::PrintToString(o.audit);
}
// The old design: the device's PTE landed in a validated table, and both auditors see it.
void expect_exploited(const Outcome& o, Machine& m) {
  EXPECT_FALSE(sound(o));
  EXPECT_GT(o.violations, 0u);
  EXPECT_GT(o.landed, 0u);
  EXPECT_EQ(o.attacked_entry, m.fx.pte(m.fx.si.pt_base, kDataRw));
  EXPECT_FALSE(o.audit.empty()) << "a validated L1 now maps the root table writable";
}

class DmaAdversary : public ::testing::TestWithParam<XenGeneration> {};

// [POOL_ADD f, PIN_L1 f] in one mmuext_op: the pin validates f before the batch's invalidation.
Outcome pool_add_then_pin(Machine& m, int64_t* rc) {
  const Pfn f = m.fx.make_table();
  m.warm_iotlb(f);
  m.watch();
  m.inv_before = m.fx.count(sim::Event::kHwIotlbInvPage);
  *rc = m.batch({m.add(f), m.pin_l1(f)});
  return outcome(m, f);
}

TEST_P(DmaAdversary, PoolAddThenPinInOneBatchIsInvalidatedBeforeValidation) {
  Machine fixed(Design::kFixed, GetParam());
  int64_t rc = 0;
  const Outcome o = pool_add_then_pin(fixed, &rc);
  EXPECT_EQ(rc, kOk);
  expect_sound(o);
  EXPECT_EQ(fixed.fx.count(sim::Event::kHwIotlbInvPage) - fixed.inv_before, 1u)
      << "the pin's, and none at the end";
  EXPECT_EQ(fixed.fx.xen.validation_policy().pending_revocations(), 0u);

  Machine old(Design::k2016, GetParam());
  expect_exploited(pool_add_then_pin(old, &rc), old);
}

// vCPU0 pools f (and g) in one batch; vCPU1 pins f before vCPU0's batch ends.
Outcome pin_from_another_vcpu(Machine& m, int64_t* pin_rc) {
  const Pfn f = m.fx.make_table();
  const Pfn g = m.fx.make_table();
  m.warm_iotlb(f);
  AtStep vcpu1(Step::kPoolChange, m.fx.mfn(f), 0,
               [&] { *pin_rc = m.batch({m.pin_l1(f)}, /*v=*/1); });
  m.watch(&vcpu1);
  m.inv_before = m.fx.count(sim::Event::kHwIotlbInvPage);
  m.dom_inv_before = m.fx.count(sim::Event::kHwIotlbInvDomain);
  EXPECT_EQ(m.batch({m.add(f), m.add(g)}), kOk);
  EXPECT_TRUE(vcpu1.done());
  m.adversary.chain(nullptr);  // (vcpu1 goes out of scope)
  return outcome(m, f);
}

TEST_P(DmaAdversary, APinOnAnotherVcpuWaitsForThePoolBatchsInvalidation) {
  Machine fixed(Design::kFixed, GetParam());
  int64_t pin_rc = -1;
  const Outcome o = pin_from_another_vcpu(fixed, &pin_rc);
  EXPECT_EQ(pin_rc, kOk);
  expect_sound(o);
  // f's invalidation completed early (vCPU1's pin), g's at the end of vCPU0's batch.
  EXPECT_EQ(fixed.fx.count(sim::Event::kHwIotlbInvPage) - fixed.inv_before, 2u);
  EXPECT_EQ(fixed.fx.count(sim::Event::kHwIotlbInvDomain) - fixed.dom_inv_before, 0u);

  Machine old(Design::k2016, GetParam());
  expect_exploited(pin_from_another_vcpu(old, &pin_rc), old);
  EXPECT_EQ(pin_rc, kOk);
}

// vCPU0 removes f from the pool; vCPU1 tries to make it an L1 while the remap is under way.
Outcome pin_during_remove(Machine& m, int64_t* pin_rc, int64_t* remove_rc) {
  const Pfn f = m.fx.make_table();
  EXPECT_EQ(m.batch({m.add(f)}), kOk);
  AtStep vcpu1(Step::kPoolChange, m.fx.mfn(f), 0,
               [&] { *pin_rc = m.batch({m.pin_l1(f)}, /*v=*/1); });
  m.watch(&vcpu1);
  *remove_rc = m.batch({m.remove(f)});
  EXPECT_TRUE(vcpu1.done());
  m.adversary.chain(nullptr);  // (vcpu1 goes out of scope)
  return outcome(m, f);
}

TEST_P(DmaAdversary, RemoveHoldsAWritableReferenceAcrossItsRemap) {
  Machine fixed(Design::kFixed, GetParam());
  int64_t pin_rc = 0;
  int64_t remove_rc = -1;
  const Outcome o = pin_during_remove(fixed, &pin_rc, &remove_rc);
  EXPECT_EQ(remove_rc, kOk);
  EXPECT_EQ(pin_rc, kEINVAL) << "the frame holds a writable type reference during the remap";
  expect_sound(o);
  const Pfn f{fixed.fx.si.first_free_pfn.value};  // the frame pin_during_remove used
  EXPECT_NE(fixed.io_entry(f) & hw::iopte::kWrite, 0u) << "DMA-writable again, out of the pool";
  EXPECT_EQ(fixed.fx.page(f).type_count, 0u);
  // Once the remap is done the pin goes through, with Xen's own unmap and invalidation.
  const uint64_t inv = fixed.fx.count(sim::Event::kHwIotlbInvPage);
  EXPECT_EQ(fixed.batch({fixed.pin_l1(f)}, 1), kOk);
  EXPECT_EQ(fixed.io_entry(f), 0u);
  EXPECT_EQ(fixed.fx.count(sim::Event::kHwIotlbInvPage), inv + 1);
  EXPECT_EQ(fixed.adversary.violations(), 0u);
  EXPECT_AUDIT_CLEAN(fixed.fx);

  Machine old(Design::k2016, GetParam());
  expect_exploited(pin_during_remove(old, &pin_rc, &remove_rc), old);
  EXPECT_EQ(pin_rc, kOk) << "the concurrent change saw 'not pooled' and unmapped nothing";
}

// The domain is torn down (the toolstack, on another CPU) while vCPU0's pool batch is pending.
struct Teardown {
  std::size_t pending_after = 0;
  bool f_in_pool = true;
  bool f_free = false;
};
Teardown teardown_mid_batch(Machine& m, int64_t* rc) {
  const Pfn f = m.fx.make_table();
  const Pfn g = m.fx.make_table();
  const Mfn fm = m.fx.mfn(f);
  m.warm_iotlb(f);
  Teardown t;
  AtStep toolstack(Step::kPoolChange, fm, 0, [&] {
    m.fx.xen.destroy_domain(0);
    t.pending_after = m.fx.xen.validation_policy().pending_revocations();
    const xen::PageInfo& pg = m.fx.xen.frame_table()[fm];
    t.f_in_pool = pg.dma_revoked || pg.dma_revoke_pending;
    t.f_free = pg.owner == xen::kNoOwner && pg.count == 0;
  });
  m.watch(&toolstack);
  *rc = m.batch({m.add(f), m.add(g)});
  m.adversary.chain(nullptr);
  return t;
}

TEST_P(DmaAdversary, TeardownDrainsAPendingPoolBatchAndFreesPooledFramesClean) {
  Machine fixed(Design::kFixed, GetParam());
  int64_t rc = 0;
  const Teardown t = teardown_mid_batch(fixed, &rc);
  EXPECT_EQ(rc, abi::err::kEPERM) << "the rest of the batch finds the frames gone";
  EXPECT_EQ(t.pending_after, 0u) << "drained at teardown";
  EXPECT_TRUE(t.f_free);
  EXPECT_FALSE(t.f_in_pool) << "a free frame is in no pool";
  EXPECT_EQ(fixed.adversary.violations(), 0u)
      << ::testing::PrintToString(fixed.adversary.findings());
  EXPECT_EQ(fixed.iommu().iotlb_occupancy(), 0u);
  EXPECT_TRUE(fixed.fx.xen.domain(0).dying);
  EXPECT_TRUE(fixed.fx.xen.domain(0).pages.empty());
  EXPECT_AUDIT_CLEAN(fixed.fx);

  Machine old(Design::k2016, GetParam());
  const Teardown t_old = teardown_mid_batch(old, &rc);
  EXPECT_EQ(t_old.pending_after, 1u) << "the old design keeps the dead domain's frame pending";
}

// A pending frame that is freed (a free path the model's guest does not take: the hook is
// Xen's decrease_reservation / relinquish contract) has its invalidation completed first.
TEST_P(DmaAdversary, APendingPooledFrameIsInvalidatedBeforeItIsFreed) {
  for (const Design design : {Design::kFixed, Design::k2016}) {
    Machine m(design, GetParam());
    const Pfn f = m.fx.make_table();
    m.warm_iotlb(f);
    std::optional<bool> cached_after_free;
    AtStep free_it(Step::kPoolChange, m.fx.mfn(f), 0, [&] {
      m.fx.xen.validation_policy().before_free(m.fx.xen, m.fx.mfn(f));
      cached_after_free = m.iotlb_holds(f);
    });
    m.watch(&free_it);
    ASSERT_EQ(m.batch({m.add(f)}), kOk);
    m.adversary.chain(nullptr);
    ASSERT_TRUE(cached_after_free.has_value());
    EXPECT_EQ(*cached_after_free, design == Design::k2016)
        << "fixed: no cached translation may outlive the free";
  }
}

INSTANTIATE_TEST_SUITE_P(BothGenerations, DmaAdversary,
                         ::testing::Values(XenGeneration::kPaperEra, XenGeneration::kModern),
                         [](const auto& param_info) {
                           return param_info.param == XenGeneration::kModern ? "Xen417"
                                                                             : "PaperEra";
                         });
}  // namespace
}  // namespace pib::test
