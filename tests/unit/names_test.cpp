// SPDX-License-Identifier: MIT
// The enum name tables: every name reads back as its value, unknown names are refused with the
// valid ones listed, and traces name every mmuext command the ABI defines.
#include <gtest/gtest.h>

#include "abi/hypercall.hpp"
#include "common/error.hpp"
#include "guest/xen/xen_pv_ops.hpp"
#include "system/guest_system.hpp"
#include "xen/domain.hpp"
#include "xen/params.hpp"

namespace pib {
namespace {

template <typename Table>
void expect_every_name_reads_back(const Table& table) {
  for (const auto& row : table.rows) {
    EXPECT_EQ(table.by_name(row.name), row.value) << row.name;
    EXPECT_EQ(table.find(table.name_of(row.value)), row.value) << row.name;
  }
}

TEST(Names, EveryNameReadsBackAsItsValue) {
  expect_every_name_reads_back(xen::kXenGenerationNames);
  expect_every_name_reads_back(xen::kIommuModeNames);
  expect_every_name_reads_back(guest::kLinuxGenerationNames);
  expect_every_name_reads_back(system::kPvOpsNames);
  expect_every_name_reads_back(abi::kMmuextCmdNames);
}

TEST(Names, AliasesReadButTheFirstNameIsPrinted) {
  EXPECT_EQ(xen::xen_generation_by_name("4.17"), xen::XenGeneration::kModern);
  EXPECT_EQ(xen::name_of(xen::XenGeneration::kModern), "modern");
  EXPECT_EQ(xen::name_of(xen::XenGeneration::kPaperEra), "paper-era");
}

TEST(Names, AnUnknownNameListsTheValidOnes) {
  try {
    xen::iommu_mode_by_name("strict");
    FAIL() << "accepted";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "unknown IOMMU mode 'strict' (valid: none, sync, relaxed)");
  }
  EXPECT_THROW(guest::linux_generation_by_name("5"), InputError);
  EXPECT_THROW(system::pvops_by_name("kvm"), InputError);
}

TEST(Names, TracesNameThePoolCommands) {
  EXPECT_EQ(abi::mmuext_name(abi::kMmuextPtPoolAdd), "PT_POOL_ADD");
  EXPECT_EQ(abi::mmuext_name(abi::kMmuextPtPoolRemove), "PT_POOL_REMOVE");
  EXPECT_EQ(abi::mmuext_name(abi::kMmuextPinL4Table), "PIN_L4_TABLE");
  EXPECT_EQ(abi::mmuext_name(99), "cmd99");  // a number the ABI does not define
}

}  // namespace
}  // namespace pib
