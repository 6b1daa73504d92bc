// SPDX-License-Identifier: MIT
// A small PV domain on a fresh machine, plus the guest-side helpers tests use to act like a
// guest kernel: take free frames, write them through the direct map, remap them read-only or
// writable, issue hypercalls, and run the auditor. Everything goes through the hypercall port
// and the guest's own memory accesses, as a real guest's would.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "abi/start_info.hpp"
#include "hw/machine.hpp"
#include "sim/ledger.hpp"
#include "xen/audit.hpp"
#include "xen/domain_builder.hpp"
#include "xen/hypervisor.hpp"

namespace pib::test {

struct PvFixtureParams {
  uint64_t machine_frames = 4096;
  uint64_t domain_pages = 1024;
  uint32_t cpus = 1;
  uint32_t vcpus = 1;
  xen::XenGeneration generation = xen::XenGeneration::kPaperEra;
  xen::IommuSuperpages iommu_superpages = xen::IommuSuperpages::kDefault;
  xen::Xsa288 xsa288 = xen::Xsa288::kDefault;
  bool privileged = false;
  // With an IOMMU on the machine (no caching mode) and the domain in this mode when not kNone.
  xen::IommuMode iommu = xen::IommuMode::kNone;
  // The validation policy installed before the domain is built (none: Xen's own).
  std::function<std::unique_ptr<xen::ValidationPolicy>()> policy{};
  // kDmaDevice assigned to the domain (needs an IOMMU mode).
  bool dma_device = false;
};

inline constexpr uint16_t kDmaDevice = 0x300;

inline constexpr int64_t kOk = abi::err::kOk;
inline constexpr int64_t kEINVAL = abi::err::kEINVAL;
inline constexpr int64_t kEBUSY = abi::err::kEBUSY;
inline constexpr int64_t kEPERM = abi::err::kEPERM;

// Flags of ordinary mappings (Linux's PAGE_KERNEL / _PAGE_TABLE, before Xen's adjustments).
inline constexpr uint64_t kTableFlags = hw::pte_bits::kPresent | hw::pte_bits::kRw |
                                        hw::pte_bits::kUser | hw::pte_bits::kAccessed |
                                        hw::pte_bits::kDirty;
inline constexpr uint64_t kDataRw =
    hw::pte_bits::kPresent | hw::pte_bits::kRw | hw::pte_bits::kAccessed | hw::pte_bits::kDirty;
inline constexpr uint64_t kDataRo = hw::pte_bits::kPresent | hw::pte_bits::kAccessed;

class PvFixture {
 public:
  explicit PvFixture(PvFixtureParams p = {});

  sim::Ledger ledger;
  hw::Machine machine;
  xen::Hypervisor xen;
  abi::StartInfo si;

  Pfn alloc();  // next unused guest frame (zeroed, mapped RW)
  Mfn mfn(Pfn pfn) const { return si.p2m.at(pfn.value); }
  Vaddr va(Pfn pfn, uint64_t index = 0) const { return abi::direct_map_va(si, pfn, index * 8); }
  Maddr entry(Pfn table, uint64_t index) const { return maddr_of(mfn(table), index * 8); }
  uint64_t pte(Pfn target, uint64_t flags) const { return hw::Pte::make(mfn(target), flags).raw(); }

  hw::MemResult store(Pfn pfn, uint64_t index, uint64_t value, VcpuId v = 0);
  hw::MemResult load(Pfn pfn, uint64_t index, VcpuId v = 0);
  int64_t remap(Pfn pfn, bool writable, VcpuId v = 0);  // update_va_mapping of the alias
  int64_t update(Pfn table, uint64_t index, uint64_t value, VcpuId v = 0);
  int64_t mmuext(uint32_t cmd, uint64_t arg1, uint64_t arg2 = 0, VcpuId v = 0);
  // One request or op from vCPU 0 with an explicit foreigndom (a page owner, or for mmu_update
  // also a page-table owner: abi::foreigndom_of).
  int64_t update_as(uint64_t ptr, uint64_t val, abi::ForeignDom foreigndom);
  int64_t mmuext_as(uint32_t cmd, uint64_t arg1, DomId foreigndom);
  int64_t pin(unsigned level, Pfn table) { return mmuext(level - 1, mfn(table).value); }
  int64_t unpin(Pfn table) { return mmuext(abi::kMmuextUnpinTable, mfn(table).value); }

  // An empty frame ready to be pinned at any level: allocated (zeroed) and remapped read-only.
  Pfn make_table();
  const xen::PageInfo& page(Pfn pfn) const { return xen.frame_table()[mfn(pfn)]; }
  uint64_t count(sim::Event e) const { return ledger.count(e); }
  std::vector<std::string> audit() const { return xen::audit(xen); }

 private:
  uint64_t next_free_;
};

#define EXPECT_AUDIT_CLEAN(fx)                                             \
  do {                                                                     \
    const auto problems_ = (fx).audit();                                   \
    EXPECT_TRUE(problems_.empty()) << ::testing::PrintToString(problems_); \
  } while (0)

}  // namespace pib::test
