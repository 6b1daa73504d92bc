// SPDX-License-Identifier: MIT
// A PV domain as Xen sees it: its vCPUs with their root tables (kernel `guest_table`, user
// `guest_table_user`), the frames it owns, the L4 count, and the set of physical CPUs that may
// hold its translations (dirty_cpumask).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/names.hpp"
#include "common/run_list.hpp"
#include "common/types.hpp"

namespace pib::xen {

struct Vcpu {
  VcpuId id = 0;
  CpuId pcpu = 0;  // the model pins each vCPU to one physical CPU
  Mfn guest_table = kInvalidMfn;
  Mfn guest_table_user = kInvalidMfn;
  bool in_kernel = true;
  bool online = false;
  // A page-table reference whose drop was deferred (current->arch.old_guest_table); released at
  // the start of the next mmu_update/mmuext_op entry, i.e. in a continuation. With
  // `old_guest_table_partial` the table is PGT_partial and the reference is a general one only
  // (the partial state owns the type count): a preempted devalidation, or a failed validation
  // whose teardown was deferred.
  std::optional<Mfn> old_guest_table;
  bool old_guest_table_partial = false;
  // VCPUOP_set_singleshot_timer's deadline (system time, ns; kNoDeadline when stopped) and the
  // VIRQs raised for the vCPU that its event upcall has not taken yet.
  uint64_t singleshot_deadline = kNoDeadline;
  uint32_t pending_virqs = 0;
  static constexpr uint64_t kNoDeadline = ~uint64_t{0};
};

// How the IOMMU follows the domain's pages (xen-pv-mmu.md A3).
enum class IommuMode : uint8_t {
  kNone,     // no IOMMU use: no I/O page tables, no synchronisation
  kSync,     // created with the IOMMU (passthrough) or dom0-strict: need_iommu_pt_sync
  kRelaxed,  // dom0 default: all RAM mapped at boot, never synchronised afterwards
};
inline constexpr auto kIommuModeNames = make_names<IommuMode>(
    "IOMMU mode",
    {{IommuMode::kNone, "none"}, {IommuMode::kSync, "sync"}, {IommuMode::kRelaxed, "relaxed"}});
inline std::string_view name_of(IommuMode m) {
  return kIommuModeNames.name_of(m);
}
// InputError naming the valid modes when `name` is none of them.
inline IommuMode iommu_mode_by_name(std::string_view name) {
  return kIommuModeNames.by_name(name);
}

struct DomainConfig {
  uint64_t max_pages = 0;
  uint32_t vcpus = 1;
  bool privileged = false;  // may use cache attributes and cache flushes (I/O privileged dom0)
  IommuMode iommu = IommuMode::kNone;
};

struct Domain {
  DomId id = 0;
  DomainConfig config;
  std::vector<Vcpu> vcpus;
  // Every frame allocated to the domain, in allocation order; kept as runs of consecutive
  // frames, since the builder hands them out in ascending order.
  RunList<Mfn> pages;
  uint64_t nr_l4_pages = 0;  // d->arch.pv.nr_l4_pages
  uint64_t dirty_cpumask = 0;
  Mfn iommu_root = kInvalidMfn;   // root of the domain's I/O page tables (Xen-owned frames)
  std::vector<uint16_t> devices;  // assigned to it (their IOMMU contexts name its tables)
  bool dying = false;             // torn down (Hypervisor::destroy_domain): owns nothing
  // Shut down through sched_op (d->is_shut_down, d->shutdown_code): its vCPUs are paused until
  // the toolstack resumes the domain (a cancelled save) or destroys it. The first reason sticks.
  std::optional<uint32_t> shutdown_reason;
  bool need_iommu_sync() const { return config.iommu == IommuMode::kSync; }
  // Xen's l1_disallow_mask lets a PV domain set cache attributes in L1 entries when it holds
  // I/O-memory or I/O-port ranges (the model's `privileged`) or has a device assigned.
  bool may_use_cache_attrs() const { return config.privileged || !devices.empty(); }
  // Xen's cache_flush_permitted: I/O-memory or I/O-port ranges only.
  bool may_flush_cache() const { return config.privileged; }
};

}  // namespace pib::xen
