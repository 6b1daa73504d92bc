// SPDX-License-Identifier: MIT
#include "support/pv_fixture.hpp"

namespace pib::test {

using namespace hw::pte_bits;

namespace {
abi::StartInfo build(xen::Hypervisor& xen, const PvFixtureParams& p) {
  if (p.policy) xen.set_validation_policy(p.policy());
  abi::StartInfo si = xen::build_pv_domain(
      xen,
      xen::PvDomainSpec{
          .pages = p.domain_pages, .vcpus = p.vcpus, .privileged = p.privileged, .iommu = p.iommu});
  if (p.dma_device) xen.assign_device(0, kDmaDevice);
  return si;
}
}  // namespace

PvFixture::PvFixture(PvFixtureParams p)
    : machine(hw::MachineParams{.frames = p.machine_frames,
                                .cpus = p.cpus,
                                .tlb = {},
                                .iommu = p.iommu == xen::IommuMode::kNone
                                             ? std::nullopt
                                             : std::optional<hw::IommuParams>{hw::IommuParams{}}},
              ledger),
      xen(machine, ledger,
          xen::XenParams{.generation = p.generation,
                         .iommu_superpages = p.iommu_superpages,
                         .xsa288 = p.xsa288}),
      si(build(xen, p)),
      next_free_(si.first_free_pfn.value) {}

Pfn PvFixture::alloc() {
  if (next_free_ >= si.nr_pages) throw std::runtime_error("test domain out of frames");
  return Pfn{next_free_++};
}

hw::MemResult PvFixture::store(Pfn pfn, uint64_t index, uint64_t value, VcpuId v) {
  return xen.guest_access(
      v, hw::MemRequest{va(pfn, index), hw::MemOp::kStore, hw::Mode::kUser, value});
}

hw::MemResult PvFixture::load(Pfn pfn, uint64_t index, VcpuId v) {
  return xen.guest_access(v, hw::MemRequest{va(pfn, index), hw::MemOp::kLoad});
}

int64_t PvFixture::remap(Pfn pfn, bool writable, VcpuId v) {
  const uint64_t flags = (writable ? kDataRw : kDataRo) | kNx;
  return xen.update_va_mapping(
      v, abi::UpdateVaMapping{.va = va(pfn), .val = pte(pfn, flags), .flags = abi::kUvmfInvlpg});
}

int64_t PvFixture::update(Pfn table, uint64_t index, uint64_t value, VcpuId v) {
  const abi::MmuUpdate req = abi::make_mmu_update(entry(table, index), value);
  uint32_t done = 0;
  return xen.mmu_update(v, std::span(&req, 1), &done, abi::kDomidSelf);
}

int64_t PvFixture::mmuext(uint32_t cmd, uint64_t arg1, uint64_t arg2, VcpuId v) {
  const abi::MmuextOp op{cmd, arg1, arg2};
  uint32_t done = 0;
  return xen.mmuext_op(v, std::span(&op, 1), &done, abi::kDomidSelf);
}

int64_t PvFixture::update_as(uint64_t ptr, uint64_t val, abi::ForeignDom foreigndom) {
  const abi::MmuUpdate req{ptr, val};
  uint32_t done = 0;
  return xen.mmu_update(0, std::span(&req, 1), &done, foreigndom);
}

int64_t PvFixture::mmuext_as(uint32_t cmd, uint64_t arg1, DomId foreigndom) {
  const abi::MmuextOp op{cmd, arg1, 0};
  uint32_t done = 0;
  return xen.mmuext_op(0, std::span(&op, 1), &done, foreigndom);
}

Pfn PvFixture::make_table() {
  const Pfn t = alloc();
  if (remap(t, false) != abi::err::kOk) throw std::runtime_error("remap RO failed");
  return t;
}

}  // namespace pib::test
