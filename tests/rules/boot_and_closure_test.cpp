// SPDX-License-Identifier: MIT
// Does the domain builder produce a consistent, validated domain, and do reference counts close
// when a sequence of operations returns to the initial state?
#include "support/pv_fixture.hpp"

namespace pib::test {
namespace {

using namespace hw::pte_bits;
using sim::Event;

TEST(Boot, BuiltDomainIsValidatedAndAuditClean) {
  PvFixture fx;
  EXPECT_AUDIT_CLEAN(fx);
  const auto& l4 = fx.page(fx.si.pt_base);
  EXPECT_EQ(l4.type, xen::PageType::kL4);
  EXPECT_TRUE(l4.pinned);
  EXPECT_EQ(l4.type_count, 2u);  // the pin and the vCPU's base pointer
  // Every frame is mapped in the direct map: table frames read-only, the rest writable.
  EXPECT_TRUE(fx.load(fx.si.pt_base, 0).ok);
  EXPECT_FALSE(fx.store(fx.si.pt_base, 0, 1).ok);
  const Pfn data = fx.alloc();
  EXPECT_TRUE(fx.store(data, 5, 1234).ok);
  EXPECT_EQ(fx.load(data, 5).value, 1234u);
}

TEST(Boot, GuestCannotReachXenSlots) {
  PvFixture fx;
  // Slot 258 is Xen's linear map of this very L4; the guest (ring 3) must not read it.
  const Vaddr linear = hw::make_vaddr(xen::kLinearSlot, 0, 0, 0);
  EXPECT_FALSE(fx.xen.guest_access(0, hw::MemRequest{linear, hw::MemOp::kLoad}).ok);
  EXPECT_EQ(fx.count(Event::kXenFaultBounced), 1u);
}

// A table's whole life: build, pin, use, unpin, return the frames to writable use.
TEST(RefCountClosure, PinUseUnpinReturnsEveryCountToItsStart) {
  PvFixture fx;
  const Pfn data = fx.alloc();
  const Pfn l1 = fx.alloc();
  const auto before_data = fx.page(data);
  ASSERT_TRUE(fx.store(l1, 3, fx.pte(data, kDataRw | kUser)).ok);
  ASSERT_EQ(fx.remap(l1, false), 0);
  ASSERT_EQ(fx.pin(1, l1), 0);
  EXPECT_EQ(fx.page(data).count, before_data.count + 1);
  EXPECT_EQ(fx.page(data).type_count, before_data.type_count + 1);
  EXPECT_AUDIT_CLEAN(fx);
  ASSERT_EQ(fx.unpin(l1), 0);
  ASSERT_EQ(fx.remap(l1, true), 0);
  EXPECT_EQ(fx.page(data).count, before_data.count);
  EXPECT_EQ(fx.page(data).type_count, before_data.type_count);
  EXPECT_EQ(fx.page(l1).type, xen::PageType::kWritable);
  EXPECT_AUDIT_CLEAN(fx);
}

}  // namespace
}  // namespace pib::test
