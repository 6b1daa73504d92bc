// SPDX-License-Identifier: MIT
// A hypervisor restored from a snapshot (xen::Hypervisor's copy, on a copy of its machine):
// the fuzzer builds each configuration once and runs every input on such copies, so a copy
// must answer every request as the original would, with the same counts and the same frame
// state, and from then on share nothing with it.
#include <span>

#include "pibooster/xen/pt_pool_validation.hpp"
#include "support/pv_fixture.hpp"
#include "xen/interleaving.hpp"

namespace pib::test {
namespace {

constexpr std::array kGenerations = {xen::XenGeneration::kPaperEra, xen::XenGeneration::kModern};

struct Restored {
  sim::Ledger ledger;
  hw::Machine machine;
  xen::Hypervisor xen;
  explicit Restored(const PvFixture& fx)
      : ledger(fx.ledger), machine(fx.machine, ledger), xen(fx.xen, machine, ledger) {}
};

int64_t mmuext_on(xen::Hypervisor& x, uint32_t cmd, Mfn mfn) {
  const abi::MmuextOp op{cmd, mfn.value, 0};
  uint32_t done = 0;
  return x.mmuext_op(0, std::span(&op, 1), &done, abi::kDomidSelf);
}

int64_t update_on(xen::Hypervisor& x, Maddr ptr, uint64_t val) {
  const abi::MmuUpdate req{ptr.value, val};
  uint32_t done = 0;
  return x.mmu_update(0, std::span(&req, 1), &done, abi::kDomidSelf);
}

TEST(HypervisorCopy, AnswersAsTheOriginalWould) {
  for (const auto gen : kGenerations) {
    PvFixture fx({.generation = gen, .iommu = xen::IommuMode::kSync, .dma_device = true});
    const Pfn l1 = fx.make_table();
    const Pfn l2 = fx.make_table();
    const Pfn data = fx.alloc();
    ASSERT_EQ(fx.pin(1, l1), kOk);
    Restored copy(fx);
    EXPECT_TRUE(xen::audit(copy.xen).empty()) << name_of(gen);
    // The same requests on both, the last one refused: the same results, counts and frames.
    const uint64_t l1_entry = fx.pte(l1, kTableFlags);
    const uint64_t data_entry = fx.pte(data, kDataRw);
    for (xen::Hypervisor* x : {&fx.xen, &copy.xen}) {
      EXPECT_EQ(update_on(*x, fx.entry(l2, 3), l1_entry), kOk) << name_of(gen);
      EXPECT_EQ(update_on(*x, fx.entry(l1, 5), data_entry), kOk) << name_of(gen);
      EXPECT_EQ(mmuext_on(*x, abi::kMmuextPinL2Table, fx.mfn(l2)), kOk) << name_of(gen);
      EXPECT_EQ(update_on(*x, fx.entry(l1, 6), fx.pte(l2, kDataRw)), kEBUSY)
          << name_of(gen) << ": a live table mapped writable";
    }
    EXPECT_EQ(fx.ledger.counts(), copy.ledger.counts()) << name_of(gen);
    for (const Pfn p : {l1, l2, data}) {
      EXPECT_EQ(fx.page(p), copy.xen.frame_table()[fx.mfn(p)]) << name_of(gen);
      for (uint64_t i = 0; i < kEntriesPerTable; ++i) {
        ASSERT_EQ(fx.machine.memory().read_entry(fx.mfn(p), i),
                  copy.machine.memory().read_entry(fx.mfn(p), i));
      }
    }
    EXPECT_TRUE(xen::audit(copy.xen).empty()) << name_of(gen);
    EXPECT_AUDIT_CLEAN(fx);
  }
}

TEST(HypervisorCopy, SharesNothingWithTheOriginal) {
  PvFixture fx({.iommu = xen::IommuMode::kSync, .dma_device = true});
  const Pfn l1 = fx.make_table();
  const Pfn data = fx.alloc();
  ASSERT_EQ(fx.pin(1, l1), kOk);
  Restored copy(fx);
  ASSERT_EQ(mmuext_on(copy.xen, abi::kMmuextUnpinTable, fx.mfn(l1)), kOk);
  ASSERT_EQ(update_on(copy.xen, fx.entry(data, 0), 77), kOk);
  EXPECT_TRUE(fx.page(l1).pinned) << "the copy's unpin is its own";
  EXPECT_EQ(fx.page(l1).type_count, 1u);
  EXPECT_EQ(fx.load(data, 0).value, 0u) << "so are its memory writes";
  EXPECT_EQ(fx.count(sim::Event::kXenHcMmuextOp), copy.ledger.count(sim::Event::kXenHcMmuextOp) - 1)
      << "and its charges";
  EXPECT_AUDIT_CLEAN(fx);
  EXPECT_TRUE(xen::audit(copy.xen).empty());
  // The original's faults are still its own: its CPUs' trap handler is the original.
  EXPECT_TRUE(fx.store(fx.alloc(), 0, 5).ok);
  EXPECT_EQ(&fx.xen.machine(), &fx.machine);
  EXPECT_EQ(&copy.xen.machine(), &copy.machine);
}

TEST(HypervisorCopy, CopiesTheValidationPolicy) {
  PvFixture fx({.iommu = xen::IommuMode::kSync,
                .policy = [] { return std::make_unique<pibooster::PtPoolValidation>(); }});
  const Pfn t = fx.make_table();
  ASSERT_EQ(fx.mmuext(abi::kMmuextPtPoolAdd, fx.mfn(t).value), kOk);
  Restored copy(fx);
  EXPECT_EQ(copy.xen.validation_policy().name(), "pibooster-pool");
  EXPECT_NE(&copy.xen.validation_policy(), &fx.xen.validation_policy());
  EXPECT_TRUE(copy.xen.frame_table()[fx.mfn(t)].dma_revoked);
  // The copy's pool is the copy's: a frame removed there is still pooled in the original.
  EXPECT_EQ(mmuext_on(copy.xen, abi::kMmuextPtPoolRemove, fx.mfn(t)), kOk);
  EXPECT_FALSE(copy.xen.frame_table()[fx.mfn(t)].dma_revoked);
  EXPECT_TRUE(fx.page(t).dma_revoked);
  EXPECT_TRUE(xen::audit(copy.xen).empty());
  EXPECT_AUDIT_CLEAN(fx);
}

// A copy that ran its own requests, then was restored from the original (Hypervisor::restore,
// after hw::Machine::restore): it answers the next requests as the original does, from the
// original's frame state, and its domain records stay where they were.
TEST(HypervisorCopy, RestoredInPlaceAnswersAsTheOriginalWould) {
  for (const auto gen : kGenerations) {
    PvFixture fx({.generation = gen, .iommu = xen::IommuMode::kSync, .dma_device = true});
    const Pfn l1 = fx.make_table();
    const Pfn data = fx.alloc();
    ASSERT_EQ(fx.pin(1, l1), kOk);
    Restored copy(fx);
    const xen::Domain* record = &copy.xen.domain(fx.si.domid);
    // Diverge: unpin, write a data frame, map it from the L1.
    ASSERT_EQ(mmuext_on(copy.xen, abi::kMmuextUnpinTable, fx.mfn(l1)), kOk) << name_of(gen);
    ASSERT_EQ(update_on(copy.xen, fx.entry(data, 0), 77), kOk) << name_of(gen);
    ASSERT_EQ(update_on(copy.xen, fx.entry(l1, 4), fx.pte(data, kDataRw)), kOk) << name_of(gen);
    ASSERT_NE(fx.page(l1), copy.xen.frame_table()[fx.mfn(l1)]);

    copy.ledger = fx.ledger;
    copy.machine.restore(fx.machine);
    copy.xen.restore(fx.xen);
    EXPECT_EQ(&copy.xen.domain(fx.si.domid), record) << name_of(gen);
    EXPECT_TRUE(xen::audit(copy.xen).empty()) << name_of(gen);
    for (const Pfn p : {l1, data}) {
      EXPECT_EQ(fx.page(p), copy.xen.frame_table()[fx.mfn(p)]) << name_of(gen);
      EXPECT_EQ(fx.machine.memory().read_entry(fx.mfn(p), 0),
                copy.machine.memory().read_entry(fx.mfn(p), 0))
          << name_of(gen);
    }
    // The same requests on both again: the unpin of a pinned table succeeds on both, the map
    // of the (again pinned) L1 writable is refused on both, with the same counts.
    for (xen::Hypervisor* x : {&fx.xen, &copy.xen}) {
      EXPECT_EQ(update_on(*x, fx.entry(l1, 5), fx.pte(data, kDataRw)), kOk) << name_of(gen);
      EXPECT_EQ(update_on(*x, fx.entry(l1, 6), fx.pte(l1, kDataRw)), kEBUSY) << name_of(gen);
      EXPECT_EQ(mmuext_on(*x, abi::kMmuextUnpinTable, fx.mfn(l1)), kOk) << name_of(gen);
    }
    EXPECT_EQ(fx.ledger.counts(), copy.ledger.counts()) << name_of(gen);
    EXPECT_EQ(fx.page(l1), copy.xen.frame_table()[fx.mfn(l1)]) << name_of(gen);
    EXPECT_TRUE(xen::audit(copy.xen).empty()) << name_of(gen);
    EXPECT_AUDIT_CLEAN(fx);
  }
}

class NoOp final : public xen::InterleavingObserver {
 public:
  void at(xen::Hypervisor&, const xen::InterleavingPoint&) override {}
};

TEST(HypervisorCopy, NotWithAnObserverInstalled) {
  PvFixture fx;
  NoOp observer;
  fx.xen.set_interleaving_observer(&observer);
  EXPECT_THROW(Restored copy(fx), ModelBug);
  fx.xen.set_interleaving_observer(nullptr);
  EXPECT_NO_THROW(Restored copy(fx));
}

}  // namespace
}  // namespace pib::test
