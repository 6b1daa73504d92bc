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
  kCount
};

inline constexpr std::size_t kEventCount = static_cast<std::size_t>(Event::kCount);

struct EventInfo {
  Event event;
  std::string_view name;
  std::string_view unit;
  std::string_view description;
};

// clang-format off
inline constexpr std::array<EventInfo, kEventCount> kEventTable{{
  {Event::kHwWalk, "hw.mmu.walks", "walks", "hardware page walks (TLB misses that reached memory)"},
  {Event::kHwTlbHit, "hw.tlb.hits", "lookups", "TLB lookups that hit"},
  {Event::kHwTlbMiss, "hw.tlb.misses", "lookups", "TLB lookups that missed"},
  {Event::kHwTlbFlushFull, "hw.tlb.flush_full", "flushes", "full TLB flushes, global entries included"},
  {Event::kHwTlbFlushNonGlobal, "hw.tlb.flush_nonglobal", "flushes", "TLB flushes of non-global entries (plain CR3 load semantics)"},
  {Event::kHwTlbInvlpg, "hw.tlb.invlpg", "flushes", "single-address TLB invalidations"},
  {Event::kHwCr3Load, "hw.cr3_loads", "loads", "CR3 (page-table base) loads"},
  {Event::kHwPageFault, "hw.page_faults", "faults", "page faults raised by the hardware walker"},
  {Event::kHwMemZeroPage, "hw.mem.zero_page", "pages", "4 KiB pages zeroed"},
  {Event::kHwMemCopyPage, "hw.mem.copy_page", "pages", "4 KiB pages copied"},
  {Event::kXenEntry, "xen.entries", "entries", "guest-to-hypervisor transitions (hypercalls, continuations, trapped faults)"},
  {Event::kXenHcMmuUpdate, "xen.hypercall.mmu_update", "calls", "mmu_update hypercalls (direct or in a multicall)"},
  {Event::kXenHcMmuextOp, "xen.hypercall.mmuext_op", "calls", "mmuext_op hypercalls (direct or in a multicall)"},
  {Event::kXenHcUpdateVaMapping, "xen.hypercall.update_va_mapping", "calls", "update_va_mapping hypercalls (direct or in a multicall)"},
  {Event::kXenHcMulticall, "xen.hypercall.multicall", "calls", "multicall hypercalls"},
  {Event::kXenMulticallEntries, "xen.multicall.entries", "entries", "sub-calls carried by multicalls"},
  {Event::kXenMmuUpdateRequests, "xen.mmu_update.requests", "requests", "mmu_update requests processed"},
  {Event::kXenMmuextOps, "xen.mmuext.ops", "ops", "mmuext_op operations processed"},
  {Event::kXenContinuation, "xen.continuations", "entries", "hypercall continuations (re-entries to finish deferred work)"},
  {Event::kXenHcFailed, "xen.hypercall.failed", "calls", "hypercalls or sub-operations that returned an error"},
  {Event::kXenPin, "xen.pin", "ops", "page-table pins (MMUEXT_PIN_Lx_TABLE) that succeeded"},
  {Event::kXenUnpin, "xen.unpin", "ops", "page-table unpins (MMUEXT_UNPIN_TABLE) that succeeded"},
  {Event::kXenNewBaseptr, "xen.new_baseptr", "ops", "kernel base-pointer switches (MMUEXT_NEW_BASEPTR)"},
  {Event::kXenNewUserBaseptr, "xen.new_user_baseptr", "ops", "user base-pointer switches (MMUEXT_NEW_USER_BASEPTR)"},
  {Event::kXenTypeChangeToPt, "xen.type_change.to_pt", "frames", "type changes of a frame into an L1-L4 page-table type"},
  {Event::kXenTypeChangeToWritable, "xen.type_change.to_writable", "frames", "type changes of a frame into the writable type"},
  {Event::kXenTypeChangeOther, "xen.type_change.other", "frames", "other type changes (e.g. none to segdesc)"},
  {Event::kXenValidateTables, "xen.validate.tables", "tables", "page-table validations (promote_lN_table)"},
  {Event::kXenValidateEntriesScanned, "xen.validate.entries", "entries", "entries scanned by validation"},
  {Event::kXenValidateEntriesPresent, "xen.validate.present", "entries", "present entries validated (refs taken)"},
  {Event::kXenDevalidateTables, "xen.devalidate.tables", "tables", "page-table devalidations (demote_lN_table)"},
  {Event::kXenDevalidateEntriesScanned, "xen.devalidate.entries", "entries", "entries scanned by devalidation"},
  {Event::kXenDevalidateEntriesPresent, "xen.devalidate.present", "entries", "present entries devalidated (refs dropped)"},
  {Event::kXenModEntryFast, "xen.mod_entry.fast", "updates", "page-table entry updates on the fast path (no ref changes)"},
  {Event::kXenModEntrySlow, "xen.mod_entry.slow", "updates", "page-table entry updates on the slow path (refs taken and dropped)"},
  {Event::kXenWritableMmuUpdate, "xen.mmu_update.writable", "requests", "mmu_update requests that were plain stores into writable frames"},
  {Event::kXenPtwrEmulated, "xen.ptwr.emulated", "writes", "trapped guest writes to L1 tables emulated by Xen"},
  {Event::kXenFaultBounced, "xen.fault.bounced", "faults", "page faults reflected to the guest"},
  {Event::kXenL4XenSlotsWritten, "xen.l4.xen_slots_written", "tables", "L4 tables that received Xen's reserved slots"},
  {Event::kXenTlbFlushTypeChange, "xen.tlbflush.type_change", "flushes", "type-change TLB shoot-downs (TLB clock said a flush was needed)"},
  {Event::kXenTlbFlushMmuUpdate, "xen.tlbflush.mmu_update", "flushes", "post-XSA-286 flushes after mmu_update touched L2-L4 entries"},
  {Event::kXenTlbFlushGuestReq, "xen.tlbflush.guest_request", "flushes", "TLB flushes requested by the guest (mmuext, update_va_mapping flags)"},
  {Event::kXenTlbFlushLocal, "xen.flush.local", "flushes", "TLB flushes Xen executed on the CPU it runs on"},
  {Event::kXenTlbFlushRemote, "xen.flush.ipi", "flushes", "TLB flushes Xen sent to other CPUs by IPI (one per CPU)"},
  {Event::kXenInvlpgLocal, "xen.invlpg.local", "flushes", "single-VA invalidations Xen executed on its own CPU"},
  {Event::kXenInvlpgRemote, "xen.invlpg.ipi", "flushes", "single-VA invalidations Xen sent to other CPUs by IPI"},
  {Event::kXenMcSubMmuUpdate, "xen.multicall.mmu_update", "calls", "mmu_update sub-calls inside multicalls (direct ones = hypercall.mmu_update minus these)"},
  {Event::kXenMcSubMmuextOp, "xen.multicall.mmuext_op", "calls", "mmuext_op sub-calls inside multicalls"},
  {Event::kXenMcSubUpdateVaMapping, "xen.multicall.update_va_mapping", "calls", "update_va_mapping sub-calls inside multicalls"},
  {Event::kGuestPtAllocL1, "guest.pt.alloc.l1", "pages", "L1 (PTE) table pages allocated by the guest kernel"},
  {Event::kGuestPtAllocL2, "guest.pt.alloc.l2", "pages", "L2 (PMD) table pages allocated"},
  {Event::kGuestPtAllocL3, "guest.pt.alloc.l3", "pages", "L3 (PUD) table pages allocated"},
  {Event::kGuestPgdAlloc, "guest.pt.alloc.pgd", "pgds", "pgds allocated (each a kernel and a user L4 page under Xen PV)"},
  {Event::kGuestPtFreeL1, "guest.pt.free.l1", "pages", "L1 table pages freed"},
  {Event::kGuestPtFreeL2, "guest.pt.free.l2", "pages", "L2 table pages freed"},
  {Event::kGuestPtFreeL3, "guest.pt.free.l3", "pages", "L3 table pages freed"},
  {Event::kGuestPgdFree, "guest.pt.free.pgd", "pgds", "pgds freed"},
  {Event::kGuestPgdPin, "guest.pgd.pin", "trees", "whole address spaces pinned (xen_pgd_pin)"},
  {Event::kGuestPgdUnpin, "guest.pgd.unpin", "trees", "whole address spaces unpinned (xen_pgd_unpin)"},
  {Event::kGuestSetPte, "guest.pvop.set_pte", "calls", "set_pte pv-op calls"},
  {Event::kGuestSetPmd, "guest.pvop.set_pmd", "calls", "set_pmd pv-op calls (L2 entries)"},
  {Event::kGuestSetPud, "guest.pvop.set_pud", "calls", "set_pud pv-op calls (L3 entries)"},
  {Event::kGuestSetP4d, "guest.pvop.set_p4d", "calls", "set_p4d pv-op calls (L4 entries)"},
  {Event::kGuestWriteCr3, "guest.pvop.write_cr3", "calls", "write_cr3 pv-op calls"},
  {Event::kGuestMcFlush, "guest.mc.flushes", "batches", "non-empty multicall batches flushed by the guest"},
  {Event::kGuestMcIssuedDirect, "guest.mc.direct", "batches", "single-entry batches issued as a direct hypercall"},
  {Event::kGuestFault, "guest.fault", "faults", "page faults handled by the guest kernel"},
  {Event::kGuestFaultDemandZero, "guest.fault.demand_zero", "faults", "faults served with a new zeroed anonymous page"},
  {Event::kGuestFaultCowCopy, "guest.fault.cow_copy", "faults", "write faults that copied a shared page (COW break)"},
  {Event::kGuestFaultCowReuse, "guest.fault.cow_reuse", "faults", "write faults that made an exclusive page writable again"},
  {Event::kGuestFaultFile, "guest.fault.file", "faults", "faults served from the page cache"},
  {Event::kGuestFaultSegv, "guest.fault.segv", "faults", "faults with no valid mapping (the access fails)"},
  {Event::kGuestIpi, "guest.ipi", "ipis", "inter-processor interrupts sent by the guest kernel"},
  {Event::kGuestContextSwitch, "guest.context_switch", "switches", "address-space switches"},
  {Event::kGuestFork, "guest.fork", "calls", "fork system calls"},
  {Event::kGuestExec, "guest.exec", "calls", "execve system calls"},
  {Event::kGuestExit, "guest.exit", "calls", "process exits"},
  {Event::kGuestPageAlloc, "guest.pages.alloc", "pages", "pages taken from the guest page allocator"},
  {Event::kGuestPageFree, "guest.pages.free", "pages", "pages returned to the guest page allocator"},
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
