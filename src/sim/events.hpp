// SPDX-License-Identifier: MIT
// Every countable event of the model, in one table: its dotted name, unit and one-line meaning.
// Components charge events to the Ledger; the cost model (profiles/) gives each a unit cost.
// Adding an event = one enumerator + one row in kEventTable (a unit test checks they agree).
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace pib::sim {

enum class Event : std::size_t {
  // --- hardware: MMU and TLB ---
  kHwWalk,
  kHwTlbHit,
  kHwTlbMiss,
  kHwTlbFlushFull,
  kHwTlbFlushNonGlobal,
  kHwTlbInvlpg,
  kHwCr3Load,
  kHwPageFault,
  kHwMemZeroPage,
  kHwMemCopyPage,
  // --- hypervisor entries and hypercalls ---
  kXenEntry,
  kXenHcMmuUpdate,
  kXenHcMmuextOp,
  kXenHcUpdateVaMapping,
  kXenHcMulticall,
  kXenMulticallEntries,
  kXenMmuUpdateRequests,
  kXenMmuextOps,
  kXenContinuation,
  kXenHcFailed,
  // --- hypervisor page-type machinery ---
  kXenPin,
  kXenUnpin,
  kXenNewBaseptr,
  kXenNewUserBaseptr,
  kXenTypeChangeToPt,
  kXenTypeChangeToWritable,
  kXenTypeChangeOther,
  kXenValidateTables,
  kXenValidateEntriesScanned,
  kXenValidateEntriesPresent,
  kXenDevalidateTables,
  kXenDevalidateEntriesScanned,
  kXenDevalidateEntriesPresent,
  kXenModEntryFast,
  kXenModEntrySlow,
  kXenWritableMmuUpdate,
  kXenPtwrEmulated,
  kXenFaultBounced,
  kXenL4XenSlotsWritten,
  // --- hypervisor TLB maintenance ---
  kXenTlbFlushTypeChange,
  kXenTlbFlushMmuUpdate,
  kXenTlbFlushGuestReq,
  kXenTlbFlushLocal,
  kXenTlbFlushRemote,
  kXenInvlpgLocal,
  kXenInvlpgRemote,
  kXenMcSubMmuUpdate,
  kXenMcSubMmuextOp,
  kXenMcSubUpdateVaMapping,
  // --- guest kernel ---
  kGuestPtAllocL1,
  kGuestPtAllocL2,
  kGuestPtAllocL3,
  kGuestPgdAlloc,
  kGuestPtFreeL1,
  kGuestPtFreeL2,
  kGuestPtFreeL3,
  kGuestPgdFree,
  kGuestPgdPin,
  kGuestPgdUnpin,
  kGuestSetPte,
  kGuestSetPmd,
  kGuestSetPud,
  kGuestSetP4d,
  kGuestWriteCr3,
  kGuestMcFlush,
  kGuestMcIssuedDirect,
  kGuestFault,
  kGuestFaultDemandZero,
  kGuestFaultCowCopy,
  kGuestFaultCowReuse,
  kGuestFaultFile,
  kGuestFaultSegv,
  kGuestIpi,
  kGuestContextSwitch,
  kGuestFork,
  kGuestExec,
  kGuestExit,
  kGuestPageAlloc,
  kGuestPageFree,
  kGuestKernelEntry,
  // --- IOMMU, IOTLB, DMA devices ---
  kHwIommuMap,
  kHwIommuUnmap,
  kHwIommuPtAlloc,
  kHwIotlbHit,
  kHwIotlbMiss,
  kHwIommuWalk,
  kHwIotlbInvPage,
  kHwIotlbInvDomain,
  kHwIotlbInvGlobal,
  kHwIommuInvWait,
  kHwIommuFault,
  kHwDmaPage,
  kDevNicPackets,
  kDevNicBytes,
  kDevDiskRequests,
  kDevDiskBytes,
  kXenIommuMapSkipped,
  kHwIommuInvStall,
  kDevNicDrops,
  kGuestDriverRequests,
  kXenMcMmuUpdateRequests,
  kXenMcMmuextOps,
  kCount
};

inline constexpr std::size_t kEventCount = static_cast<std::size_t>(Event::kCount);

// Whether an event's count carries modeled time. Tallies are counted for insight but their work
// is already charged by other events (a hypercall's entry by xen.entries, a flush decision by
// the flush it executes), so a cost profile gives a unit cost exactly to the work events.
enum class Cost : bool { kTally = false, kWork = true };

struct EventInfo {
  Event event;
  std::string_view name;
  std::string_view unit;
  std::string_view description;
  Cost cost = Cost::kWork;
};

// clang-format off
inline constexpr std::array<EventInfo, kEventCount> kEventTable{{
  {Event::kHwWalk, "hw.mmu.walks", "walks", "hardware page walks (TLB misses that reached memory)", Cost::kWork},
  {Event::kHwTlbHit, "hw.tlb.hits", "lookups", "TLB lookups that hit", Cost::kWork},
  {Event::kHwTlbMiss, "hw.tlb.misses", "lookups", "TLB lookups that missed", Cost::kTally},
  {Event::kHwTlbFlushFull, "hw.tlb.flush_full", "flushes", "full TLB flushes, global entries included", Cost::kWork},
  {Event::kHwTlbFlushNonGlobal, "hw.tlb.flush_nonglobal", "flushes", "TLB flushes of non-global entries (plain CR3 load semantics)", Cost::kWork},
  {Event::kHwTlbInvlpg, "hw.tlb.invlpg", "flushes", "single-address TLB invalidations", Cost::kWork},
  {Event::kHwCr3Load, "hw.cr3_loads", "loads", "CR3 (page-table base) loads", Cost::kTally},
  {Event::kHwPageFault, "hw.page_faults", "faults", "page faults raised by the hardware walker", Cost::kTally},
  {Event::kHwMemZeroPage, "hw.mem.zero_page", "pages", "4 KiB pages zeroed", Cost::kWork},
  {Event::kHwMemCopyPage, "hw.mem.copy_page", "pages", "4 KiB pages copied", Cost::kWork},
  {Event::kXenEntry, "xen.entries", "entries", "guest-to-hypervisor transitions (hypercalls, continuations, trapped faults)", Cost::kWork},
  {Event::kXenHcMmuUpdate, "xen.hypercall.mmu_update", "calls", "mmu_update hypercalls (direct or in a multicall)", Cost::kTally},
  {Event::kXenHcMmuextOp, "xen.hypercall.mmuext_op", "calls", "mmuext_op hypercalls (direct or in a multicall)", Cost::kTally},
  {Event::kXenHcUpdateVaMapping, "xen.hypercall.update_va_mapping", "calls", "update_va_mapping hypercalls (direct or in a multicall)", Cost::kWork},
  {Event::kXenHcMulticall, "xen.hypercall.multicall", "calls", "multicall hypercalls", Cost::kTally},
  {Event::kXenMulticallEntries, "xen.multicall.entries", "entries", "sub-calls carried by multicalls", Cost::kWork},
  {Event::kXenMmuUpdateRequests, "xen.mmu_update.requests", "requests", "mmu_update requests processed", Cost::kWork},
  {Event::kXenMmuextOps, "xen.mmuext.ops", "ops", "mmuext_op operations processed", Cost::kWork},
  {Event::kXenContinuation, "xen.continuations", "entries", "hypercall continuations (re-entries to finish deferred work)", Cost::kTally},
  {Event::kXenHcFailed, "xen.hypercall.failed", "calls", "hypercalls or sub-operations that returned an error", Cost::kTally},
  {Event::kXenPin, "xen.pin", "ops", "page-table pins (MMUEXT_PIN_Lx_TABLE) that succeeded", Cost::kTally},
  {Event::kXenUnpin, "xen.unpin", "ops", "page-table unpins (MMUEXT_UNPIN_TABLE) that succeeded", Cost::kTally},
  {Event::kXenNewBaseptr, "xen.new_baseptr", "ops", "kernel base-pointer switches (MMUEXT_NEW_BASEPTR)", Cost::kWork},
  {Event::kXenNewUserBaseptr, "xen.new_user_baseptr", "ops", "user base-pointer switches (MMUEXT_NEW_USER_BASEPTR)", Cost::kWork},
  {Event::kXenTypeChangeToPt, "xen.type_change.to_pt", "frames", "type changes of a frame into an L1-L4 page-table type", Cost::kWork},
  {Event::kXenTypeChangeToWritable, "xen.type_change.to_writable", "frames", "type changes of a frame into the writable type", Cost::kWork},
  {Event::kXenTypeChangeOther, "xen.type_change.other", "frames", "other type changes (e.g. none to segdesc)", Cost::kWork},
  {Event::kXenValidateTables, "xen.validate.tables", "tables", "page-table validations (promote_lN_table)", Cost::kWork},
  {Event::kXenValidateEntriesScanned, "xen.validate.entries", "entries", "entries scanned by validation", Cost::kWork},
  {Event::kXenValidateEntriesPresent, "xen.validate.present", "entries", "present entries validated (refs taken)", Cost::kWork},
  {Event::kXenDevalidateTables, "xen.devalidate.tables", "tables", "page-table devalidations (demote_lN_table)", Cost::kWork},
  {Event::kXenDevalidateEntriesScanned, "xen.devalidate.entries", "entries", "entries scanned by devalidation", Cost::kWork},
  {Event::kXenDevalidateEntriesPresent, "xen.devalidate.present", "entries", "present entries devalidated (refs dropped)", Cost::kWork},
  {Event::kXenModEntryFast, "xen.mod_entry.fast", "updates", "page-table entry updates on the fast path (no ref changes)", Cost::kTally},
  {Event::kXenModEntrySlow, "xen.mod_entry.slow", "updates", "page-table entry updates on the slow path (refs taken and dropped)", Cost::kWork},
  {Event::kXenWritableMmuUpdate, "xen.mmu_update.writable", "requests", "mmu_update requests that were plain stores into writable frames", Cost::kTally},
  {Event::kXenPtwrEmulated, "xen.ptwr.emulated", "writes", "trapped guest writes to L1 tables emulated by Xen", Cost::kWork},
  {Event::kXenFaultBounced, "xen.fault.bounced", "faults", "page faults reflected to the guest", Cost::kWork},
  {Event::kXenL4XenSlotsWritten, "xen.l4.xen_slots_written", "tables", "L4 tables that received Xen's reserved slots", Cost::kWork},
  {Event::kXenTlbFlushTypeChange, "xen.tlbflush.type_change", "flushes", "type-change TLB shoot-downs (TLB clock said a flush was needed)", Cost::kTally},
  {Event::kXenTlbFlushMmuUpdate, "xen.tlbflush.mmu_update", "flushes", "post-XSA-286 flushes after mmu_update touched L2-L4 entries", Cost::kTally},
  {Event::kXenTlbFlushGuestReq, "xen.tlbflush.guest_request", "flushes", "TLB flushes requested by the guest (mmuext, update_va_mapping flags)", Cost::kTally},
  {Event::kXenTlbFlushLocal, "xen.flush.local", "flushes", "TLB flushes Xen executed on the CPU it runs on", Cost::kTally},
  {Event::kXenTlbFlushRemote, "xen.flush.ipi", "flushes", "TLB flushes Xen sent to other CPUs by IPI (one per CPU)", Cost::kWork},
  {Event::kXenInvlpgLocal, "xen.invlpg.local", "flushes", "single-VA invalidations Xen executed on its own CPU", Cost::kTally},
  {Event::kXenInvlpgRemote, "xen.invlpg.ipi", "flushes", "single-VA invalidations Xen sent to other CPUs by IPI", Cost::kWork},
  {Event::kXenMcSubMmuUpdate, "xen.multicall.mmu_update", "calls", "mmu_update sub-calls inside multicalls (direct ones = hypercall.mmu_update minus these)", Cost::kTally},
  {Event::kXenMcSubMmuextOp, "xen.multicall.mmuext_op", "calls", "mmuext_op sub-calls inside multicalls", Cost::kTally},
  {Event::kXenMcSubUpdateVaMapping, "xen.multicall.update_va_mapping", "calls", "update_va_mapping sub-calls inside multicalls", Cost::kTally},
  {Event::kGuestPtAllocL1, "guest.pt.alloc.l1", "pages", "L1 (PTE) table pages allocated by the guest kernel", Cost::kTally},
  {Event::kGuestPtAllocL2, "guest.pt.alloc.l2", "pages", "L2 (PMD) table pages allocated", Cost::kTally},
  {Event::kGuestPtAllocL3, "guest.pt.alloc.l3", "pages", "L3 (PUD) table pages allocated", Cost::kTally},
  {Event::kGuestPgdAlloc, "guest.pt.alloc.pgd", "pgds", "pgds allocated (each a kernel and a user L4 page under Xen PV)", Cost::kTally},
  {Event::kGuestPtFreeL1, "guest.pt.free.l1", "pages", "L1 table pages freed", Cost::kTally},
  {Event::kGuestPtFreeL2, "guest.pt.free.l2", "pages", "L2 table pages freed", Cost::kTally},
  {Event::kGuestPtFreeL3, "guest.pt.free.l3", "pages", "L3 table pages freed", Cost::kTally},
  {Event::kGuestPgdFree, "guest.pt.free.pgd", "pgds", "pgds freed", Cost::kTally},
  {Event::kGuestPgdPin, "guest.pgd.pin", "trees", "whole address spaces pinned (xen_pgd_pin)", Cost::kTally},
  {Event::kGuestPgdUnpin, "guest.pgd.unpin", "trees", "whole address spaces unpinned (xen_pgd_unpin)", Cost::kTally},
  {Event::kGuestSetPte, "guest.pvop.set_pte", "calls", "set_pte pv-op calls", Cost::kTally},
  {Event::kGuestSetPmd, "guest.pvop.set_pmd", "calls", "set_pmd pv-op calls (L2 entries)", Cost::kTally},
  {Event::kGuestSetPud, "guest.pvop.set_pud", "calls", "set_pud pv-op calls (L3 entries)", Cost::kTally},
  {Event::kGuestSetP4d, "guest.pvop.set_p4d", "calls", "set_p4d pv-op calls (L4 entries)", Cost::kTally},
  {Event::kGuestWriteCr3, "guest.pvop.write_cr3", "calls", "write_cr3 pv-op calls", Cost::kTally},
  {Event::kGuestMcFlush, "guest.mc.flushes", "batches", "non-empty multicall batches flushed by the guest", Cost::kWork},
  {Event::kGuestMcIssuedDirect, "guest.mc.direct", "batches", "single-entry batches issued as a direct hypercall", Cost::kTally},
  {Event::kGuestFault, "guest.fault", "faults", "page faults handled by the guest kernel", Cost::kWork},
  {Event::kGuestFaultDemandZero, "guest.fault.demand_zero", "faults", "faults served with a new zeroed anonymous page", Cost::kTally},
  {Event::kGuestFaultCowCopy, "guest.fault.cow_copy", "faults", "write faults that copied a shared page (COW break)", Cost::kTally},
  {Event::kGuestFaultCowReuse, "guest.fault.cow_reuse", "faults", "write faults that made an exclusive page writable again", Cost::kTally},
  {Event::kGuestFaultFile, "guest.fault.file", "faults", "faults served from the page cache", Cost::kTally},
  {Event::kGuestFaultSegv, "guest.fault.segv", "faults", "faults with no valid mapping (the access fails)", Cost::kTally},
  {Event::kGuestIpi, "guest.ipi", "ipis", "inter-processor interrupts sent by the guest kernel", Cost::kWork},
  {Event::kGuestContextSwitch, "guest.context_switch", "switches", "address-space switches", Cost::kWork},
  {Event::kGuestFork, "guest.fork", "calls", "fork system calls", Cost::kWork},
  {Event::kGuestExec, "guest.exec", "calls", "execve system calls", Cost::kWork},
  {Event::kGuestExit, "guest.exit", "calls", "process exits", Cost::kWork},
  {Event::kGuestPageAlloc, "guest.pages.alloc", "pages", "pages taken from the guest page allocator", Cost::kWork},
  {Event::kGuestPageFree, "guest.pages.free", "pages", "pages returned to the guest page allocator", Cost::kWork},
  {Event::kGuestKernelEntry, "guest.kernel_entry", "entries", "user-to-kernel transitions of the guest (system calls and user page faults)", Cost::kWork},
  {Event::kHwIommuMap, "hw.iommu.map", "entries", "I/O page-table leaf entries written present (IOMMU map)", Cost::kWork},
  {Event::kHwIommuUnmap, "hw.iommu.unmap", "entries", "I/O page-table leaf entries cleared (IOMMU unmap)", Cost::kWork},
  {Event::kHwIommuPtAlloc, "hw.iommu.pt_alloc", "frames", "I/O page-table frames allocated by the IOMMU driver", Cost::kWork},
  {Event::kHwIotlbHit, "hw.iotlb.hits", "lookups", "DMA translations served by the IOTLB", Cost::kTally},
  {Event::kHwIotlbMiss, "hw.iotlb.misses", "lookups", "DMA translations that missed the IOTLB (each an I/O page walk)", Cost::kTally},
  {Event::kHwIommuWalk, "hw.iommu.walks", "walks", "I/O page walks by the IOMMU (device-side translation latency)", Cost::kWork},
  {Event::kHwIotlbInvPage, "hw.iotlb.invalidations.page", "descriptors", "page-selective IOTLB invalidations (PSI, with address mask)", Cost::kWork},
  {Event::kHwIotlbInvDomain, "hw.iotlb.invalidations.domain", "descriptors", "domain-selective IOTLB invalidations (DSI)", Cost::kWork},
  {Event::kHwIotlbInvGlobal, "hw.iotlb.invalidations.global", "descriptors", "global IOTLB invalidations", Cost::kWork},
  {Event::kHwIommuInvWait, "hw.iommu.inv_wait", "waits", "queued-invalidation wait descriptors (software spins until the IOMMU is done)", Cost::kTally},
  {Event::kHwIommuFault, "hw.iommu.faults", "faults", "DMA requests blocked by the IOMMU (not mapped or read-only); nothing written", Cost::kTally},
  {Event::kHwDmaPage, "hw.dma.pages", "pages", "4 KiB pages moved by device DMA", Cost::kTally},
  {Event::kDevNicPackets, "dev.nic.packets", "packets", "packets the NIC sent or received", Cost::kWork},
  {Event::kDevNicBytes, "dev.nic.bytes", "bytes", "bytes the NIC sent or received (wire time)", Cost::kWork},
  {Event::kDevDiskRequests, "dev.disk.requests", "requests", "disk requests completed", Cost::kWork},
  {Event::kDevDiskBytes, "dev.disk.bytes", "bytes", "bytes the disk transferred (media time)", Cost::kWork},
  {Event::kXenIommuMapSkipped, "xen.iommu.flush_skipped", "flushes", "IOTLB flushes Xen skipped for a not-present to present change (caching mode off)", Cost::kTally},
  {Event::kHwIommuInvStall, "hw.iommu.inv_stall", "stalls", "IOTLB invalidations a streaming device had to wait out (its translations stall meanwhile)", Cost::kWork},
  {Event::kDevNicDrops, "dev.nic.drops", "packets", "packets the NIC dropped for want of a posted receive buffer", Cost::kTally},
  {Event::kGuestDriverRequests, "guest.driver.requests", "requests", "packets or block requests handled by a guest device driver (descriptor work, interrupt)", Cost::kWork},
  {Event::kXenMcMmuUpdateRequests, "xen.multicall.mmu_update_requests", "requests", "mmu_update requests carried by multicall sub-calls", Cost::kTally},
  {Event::kXenMcMmuextOps, "xen.multicall.mmuext_ops", "ops", "mmuext_op operations carried by multicall sub-calls", Cost::kTally},
}};
// clang-format on

constexpr const EventInfo& event_info(Event e) {
  return kEventTable[static_cast<std::size_t>(e)];
}
constexpr std::string_view event_name(Event e) {
  return event_info(e).name;
}
std::optional<Event> event_by_name(std::string_view name);

}  // namespace pib::sim
