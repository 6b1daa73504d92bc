// SPDX-License-Identifier: MIT
// Builds a 64-bit PV domain the way Xen's PV domain builder does: allocates its memory, writes
// the initial page tables (a kernel direct map of all guest memory, with the page-table frames
// themselves mapped read-only), fills the M2P, pins the kernel L4 (validating the whole tree) and
// installs it as every vCPU's kernel base pointer.
#pragma once

#include "abi/start_info.hpp"
#include "xen/hypervisor.hpp"

namespace pib::xen {

struct PvDomainSpec {
  uint64_t pages = 4096;  // 16 MiB
  uint32_t vcpus = 1;
  bool privileged = false;
  IommuMode iommu = IommuMode::kNone;
};

abi::StartInfo build_pv_domain(Hypervisor& xen, const PvDomainSpec& spec);

}  // namespace pib::xen
