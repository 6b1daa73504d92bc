// SPDX-License-Identifier: MIT
// The research delta a policy installs into a system (policies/policy_table.cpp): one factory
// per seam, each left empty for Linux's and Xen's own behaviour.
//   pt_pages        where the guest's page-table pages come from (guest/pt_pages.hpp)
//   dma_pool        when the Xen pv-ops' pin paths use the page-table pool (guest/dma_pool.hpp)
//   xen_validation  how Xen keeps DMA consistent with validation (xen/validation_policy.hpp)
#pragma once

#include <functional>
#include <memory>

#include "guest/dma_pool.hpp"
#include "guest/kernel_core.hpp"
#include "guest/pt_pages.hpp"
#include "guest/pt_pool_port.hpp"
#include "guest/table_pin_port.hpp"
#include "xen/validation_policy.hpp"

namespace pib::system {

struct GuestSystemConfig;

// What a guest-side factory may build on: the kernel, the platform's page-table pool (the Xen
// pv-ops; a pool that does nothing on bare metal), a pool that does nothing (for a design that
// leaves DMA to Xen's type changes), the platform's way to keep tables pinned between uses
// (refuses on bare metal) and the whole configuration (its knobs). All outlive what the factory
// builds.
struct DeltaContext {
  guest::KernelCore& core;
  guest::PtPoolPort& pool;
  guest::PtPoolPort& no_pool;
  guest::TablePinPort& pin;
  const GuestSystemConfig& config;
};

struct Delta {
  std::function<std::unique_ptr<guest::PtPageSource>(const DeltaContext&)> pt_pages;
  std::function<std::unique_ptr<guest::DmaPoolStrategy>(const DeltaContext&)> dma_pool;
  std::function<std::unique_ptr<xen::ValidationPolicy>(const GuestSystemConfig&)> xen_validation;
};

}  // namespace pib::system
