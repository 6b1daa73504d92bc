// SPDX-License-Identifier: MIT
// What the domain builder tells a PV guest at boot (Xen's start_info plus the initial p2m list):
// its pages, where its initial page tables are and where its kernel direct map lives.
#pragma once

#include <cstdint>

#include "common/run_list.hpp"
#include "common/types.hpp"

namespace pib::abi {

// Linux x86-64's direct map (page_offset_base without KASLR): L4 slot 273.
inline constexpr uint64_t kDirectMapSlot = 273;
inline constexpr uint64_t kDirectMapBase = 0xffff888000000000ULL;

struct StartInfo {
  DomId domid = 0;
  uint32_t vcpus = 1;
  uint64_t nr_pages = 0;
  RunList<Mfn> p2m;           // pfn -> mfn for every page of the domain (runs of frames)
  Pfn pt_base;                // the pinned kernel L4 installed as every vCPU's base
  uint64_t nr_pt_frames = 0;  // initial page-table frames occupy pfns [0, nr_pt_frames)
  Pfn first_free_pfn;         // first pfn not used by the builder
  Vaddr direct_map_base{kDirectMapBase};
};

inline Vaddr direct_map_va(const StartInfo& si, Pfn pfn, uint64_t offset = 0) {
  return Vaddr{si.direct_map_base.value + (pfn.value << kPageShift) + offset};
}

}  // namespace pib::abi
