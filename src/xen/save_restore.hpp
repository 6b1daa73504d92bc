// SPDX-License-Identifier: MIT
// The toolstack's save and restore of a suspended PV domain, as `xl migrate DOM localhost` runs
// libxc's migration stream (tools/libs/guest/xg_sr_save*.c, xg_sr_restore*.c) with both ends on
// one machine: every page of the old domain is sent in pfn order; a page Xen reports as a page
// table (XEN_DOMCTL_getpageframeinfo3: typed L1-L4 and pinned or validated) is normalised on the
// way out (each present entry's machine frame becomes the pfn the M2P gives, Xen's own L4 slots
// are dropped) and localised on the way in (pfn -> the new frame); every other page is copied as
// it is, machine frame numbers and all. The new domain's tables are then pinned where the old
// ones were, its vCPUs get their root tables back, and the old domain is destroyed.
//
// What a guest must do about it is therefore fixed: any page that holds machine frame numbers
// and is not a validated page table when the domain is saved comes back holding the *old*
// frames. Linux pins every pgd on its pgd_list before it suspends (xen_mm_pin_all) for exactly
// this reason, and so must any design that keeps constructed pgds.
//
// The toolstack's own work (dom0 reading and writing pages, the stream) is not charged to the
// ledger; the pins and base-pointer loads of the restore are Xen's work and are charged as such.
#pragma once

#include <cstdint>
#include <string>

#include "common/run_list.hpp"
#include "common/types.hpp"
#include "xen/hypervisor.hpp"

namespace pib::xen {

struct SaveRestoreResult {
  // 0 on success, else the errno libxc's save or restore would fail with, as a negative value:
  // -EINVAL the domain is not suspended, -EBUSY it has devices assigned (the model cannot move
  // their state), -ERANGE a page table references a frame outside the domain ("Bad mfn"),
  // -E2BIG an upper-level entry maps a superpage, -ENOMEM the machine has no room for the copy.
  int64_t rc = 0;
  std::string what;  // why, when rc != 0
  DomId domain = 0;  // the restored domain (rc == 0)
  RunList<Mfn> p2m;  // its pfn -> mfn map, which the toolstack writes into the guest's p2m
  uint64_t pages = 0;
  uint64_t page_tables = 0;  // pages normalised and localised
  uint64_t pinned = 0;       // tables the restore pinned
};

// Saves domain `id` (suspended through sched_op) and restores it as a new domain on the same
// machine; on success the old domain is destroyed and the new one is the port's. On failure
// nothing has changed: the old domain is still suspended and the caller may resume it
// (Hypervisor::resume_domain, a cancelled suspend).
SaveRestoreResult save_restore_local(Hypervisor& xen, DomId id);

}  // namespace pib::xen
