// SPDX-License-Identifier: MIT
#include "xen/domain_builder.hpp"

#include <string>

#include "common/error.hpp"

namespace pib::xen {

using hw::Pte;
using namespace hw::pte_bits;

namespace {
constexpr uint64_t div_up(uint64_t a, uint64_t b) {
  return (a + b - 1) / b;
}
// Linux's _KERNPG_TABLE and PAGE_KERNEL(_RO): no _PAGE_USER, Xen adds it.
constexpr uint64_t kKernTable = kPresent | kRw | kAccessed | kDirty;
constexpr uint64_t kKernData = kPresent | kRw | kAccessed | kDirty | kNx;
constexpr uint64_t kKernDataRo = kPresent | kAccessed | kNx;
}  // namespace

abi::StartInfo build_pv_domain(Hypervisor& xen, const PvDomainSpec& spec) {
  const uint64_t n1 = div_up(spec.pages, kEntriesPerTable);
  const uint64_t n2 = div_up(n1, kEntriesPerTable);
  const uint64_t nr_pt = 2 + n2 + n1;  // L4 + one L3 + L2s + L1s
  if (n2 > kEntriesPerTable) throw InputError("domain: more than 512 GiB of guest memory");
  if (spec.pages < nr_pt + 16) {
    throw InputError("domain: " + std::to_string(spec.pages) +
                     " pages leave no room beside the initial page tables");
  }
  const DomId id = xen.create_domain(DomainConfig{.max_pages = spec.pages,
                                                  .vcpus = spec.vcpus,
                                                  .privileged = spec.privileged,
                                                  .iommu = spec.iommu});
  Domain& d = xen.domain(id);
  abi::StartInfo si;
  si.domid = id;
  si.vcpus = spec.vcpus;
  si.nr_pages = spec.pages;
  // Runs of consecutive frames (usually one for the whole domain): p2m and M2P stay runs too.
  for (uint64_t pfn = 0; pfn < spec.pages;) {
    uint64_t got = 0;
    const Mfn mfn = xen.alloc_domheap_run(d, spec.pages - pfn, &got);
    if (got == 0) {
      throw InputError("domain: machine memory exhausted after " + std::to_string(pfn) + " of " +
                       std::to_string(spec.pages) + " pages");
    }
    xen.set_m2p_run(mfn, Pfn{pfn}, got);
    si.p2m.append_run(mfn, got);
    pfn += got;
  }
  auto& mem = xen.machine().memory();
  const uint64_t l4_pfn = 0, l3_pfn = 1, l2_pfn0 = 2, l1_pfn0 = 2 + n2;
  mem.write_entry(si.p2m[l4_pfn], abi::kDirectMapSlot, Pte::make(si.p2m[l3_pfn], kKernTable).raw());
  for (uint64_t i = 0; i < n2; ++i) {
    mem.write_entry(si.p2m[l3_pfn], i, Pte::make(si.p2m[l2_pfn0 + i], kKernTable).raw());
  }
  for (uint64_t i = 0; i < n1; ++i) {
    mem.write_entry(si.p2m[l2_pfn0 + i / kEntriesPerTable], i % kEntriesPerTable,
                    Pte::make(si.p2m[l1_pfn0 + i], kKernTable).raw());
  }
  for (uint64_t pfn = 0; pfn < spec.pages; ++pfn) {
    const uint64_t flags = pfn < nr_pt ? kKernDataRo : kKernData;
    mem.write_entry(si.p2m[l1_pfn0 + pfn / kEntriesPerTable], pfn % kEntriesPerTable,
                    Pte::make(si.p2m[pfn], flags).raw());
  }
  xen.set_port_domain(id);
  if (xen.builder_pin_and_install(d, si.p2m[l4_pfn]) != abi::err::kOk) {
    model_bug("initial page tables failed validation");
  }
  si.pt_base = Pfn{l4_pfn};
  si.nr_pt_frames = nr_pt;
  si.first_free_pfn = Pfn{nr_pt};
  return si;
}

}  // namespace pib::xen
