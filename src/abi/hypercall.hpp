// SPDX-License-Identifier: MIT
// The 64-bit PV hypercall ABI for page-table management, in the shapes of Xen's public xen.h:
// hypercall numbers, mmu_update requests, mmuext_op operations, update_va_mapping flags, multicall
// entries and the error codes Xen returns. Plain data: the guest builds these, the hypervisor
// consumes them; neither side sees the other's internals.
//
// Modelling note: argument buffers (request arrays, vCPU bitmaps) are passed by value instead of
// as guest virtual addresses; Xen's copy_from_guest of them is accounted for in the cost model.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/names.hpp"
#include "common/types.hpp"

namespace pib::abi {

enum class HypercallNr : uint32_t {
  kMmuUpdate = 1,
  kMemoryOp = 12,
  kMulticall = 13,
  kUpdateVaMapping = 14,
  kIret = 23,  // HYPERVISOR_iret: return to guest user mode (only meaningful in a multicall here)
  kVcpuOp = 24,
  kMmuextOp = 26,
  kSchedOp = 29,
};

// Errors are returned as negative errno values, as Xen does.
namespace err {
inline constexpr int64_t kOk = 0;
inline constexpr int64_t kEPERM = -1;
inline constexpr int64_t kENOENT = -2;
inline constexpr int64_t kESRCH = -3;
inline constexpr int64_t kENXIO = -6;
inline constexpr int64_t kE2BIG = -7;
inline constexpr int64_t kENOMEM = -12;
inline constexpr int64_t kEACCES = -13;
inline constexpr int64_t kEFAULT = -14;
inline constexpr int64_t kEBUSY = -16;
inline constexpr int64_t kEEXIST = -17;
inline constexpr int64_t kEINVAL = -22;
inline constexpr int64_t kERANGE = -34;
inline constexpr int64_t kENOSYS = -38;
inline constexpr int64_t kEOPNOTSUPP = -95;
// Xen-internal: the hypercall was preempted and continues through a continuation. Never returned
// to the guest, which re-executes the hypercall with the arguments Xen rewrote.
inline constexpr int64_t kERESTART = -85;
// Model signal, not an errno: the hypercall instruction was executed in guest user mode. A 64-bit
// PV guest's user mode cannot make hypercalls; Xen delivers the instruction to the guest kernel as
// a syscall (switching the vCPU to kernel mode) and serves nothing.
inline constexpr int64_t kBouncedToGuestKernel = -4096;
}  // namespace err
std::string_view error_name(int64_t rc);  // "-EINVAL", "0", ...

inline constexpr DomId kDomidSelf = 0x7ff0;
inline constexpr DomId kDomidIo = 0x7ff1;
inline constexpr DomId kDomidXen = 0x7ff2;

// The foreigndom argument of mmu_update and mmuext_op (an unsigned int in Xen's ABI). Its low
// 16 bits name the page owner. For mmu_update its high 16 bits are 1 + the id of the domain
// whose page tables the requests update (PFD, "page tables belong to a foreign domain"), 0 for
// the caller's own; mmuext_op reads only the low 16 (get_pg_owner takes a domid_t).
using ForeignDom = uint32_t;
constexpr DomId pg_owner_of(ForeignDom f) {
  return static_cast<DomId>(f & 0xffff);
}
constexpr uint32_t pt_dom_of(ForeignDom f) {
  return f >> 16;
}
constexpr ForeignDom foreigndom_of(DomId pt_owner, DomId pg_owner) {
  return ((uint32_t{pt_owner} + 1) << 16) | pg_owner;
}
inline constexpr DomId kDomidInvalid = 0x7ff4;

// --- mmu_update -------------------------------------------------------------------------------
// The command is the low 3 bits of `ptr` (an entry is 8-byte aligned); 4-7 are undefined.
enum MmuUpdateCmd : uint64_t {
  kMmuNormalPtUpdate = 0,       // ptr = machine address of an 8-byte entry
  kMmuMachphysUpdate = 1,       // ptr = machine address of the frame, val = its new pfn
  kMmuPtUpdatePreserveAd = 2,   // as normal, keeping the entry's current A/D bits
  kMmuPtUpdateNoTranslate = 3,  // as normal without p2m translation (the same for PV)
};
inline constexpr uint64_t kMmuUpdateCmdMask = 7;
struct MmuUpdate {
  uint64_t ptr = 0;  // machine address | command in the low 3 bits
  uint64_t val = 0;
};
inline MmuUpdate make_mmu_update(Maddr entry, uint64_t val, MmuUpdateCmd cmd = kMmuNormalPtUpdate) {
  return MmuUpdate{entry.value | cmd, val};
}

// --- mmuext_op --------------------------------------------------------------------------------
enum MmuextCmd : uint32_t {
  kMmuextPinL1Table = 0,
  kMmuextPinL2Table = 1,
  kMmuextPinL3Table = 2,
  kMmuextPinL4Table = 3,
  kMmuextUnpinTable = 4,
  kMmuextNewBaseptr = 5,
  kMmuextTlbFlushLocal = 6,
  kMmuextInvlpgLocal = 7,
  kMmuextTlbFlushMulti = 8,
  kMmuextInvlpgMulti = 9,
  kMmuextTlbFlushAll = 10,
  kMmuextInvlpgAll = 11,
  kMmuextFlushCache = 12,
  kMmuextSetLdt = 13,
  // 14 was never assigned in xen.h: do_mmuext_op's default case answers it (-ENOSYS).
  kMmuextUnassigned14 = 14,
  kMmuextNewUserBaseptr = 15,
  kMmuextClearPage = 16,
  kMmuextCopyPage = 17,
  kMmuextFlushCacheGlobal = 18,
  kMmuextMarkSuper = 19,
  kMmuextUnmarkSuper = 20,
  // PiBooster's fine-grained validation (model extension, numbers outside Xen's range):
  // move a frame into / out of the domain's page-table pool, whose frames are revoked from
  // DMA for as long as they stay in it whatever their type. One IOTLB invalidation per batch.
  kMmuextPtPoolAdd = 40,
  kMmuextPtPoolRemove = 41,
};
// Xen's names without the MMUEXT_ prefix, as traces print them.
inline constexpr auto kMmuextCmdNames =
    make_names<MmuextCmd>("mmuext command", {{kMmuextPinL1Table, "PIN_L1_TABLE"},
                                             {kMmuextPinL2Table, "PIN_L2_TABLE"},
                                             {kMmuextPinL3Table, "PIN_L3_TABLE"},
                                             {kMmuextPinL4Table, "PIN_L4_TABLE"},
                                             {kMmuextUnpinTable, "UNPIN_TABLE"},
                                             {kMmuextNewBaseptr, "NEW_BASEPTR"},
                                             {kMmuextTlbFlushLocal, "TLB_FLUSH_LOCAL"},
                                             {kMmuextInvlpgLocal, "INVLPG_LOCAL"},
                                             {kMmuextTlbFlushMulti, "TLB_FLUSH_MULTI"},
                                             {kMmuextInvlpgMulti, "INVLPG_MULTI"},
                                             {kMmuextTlbFlushAll, "TLB_FLUSH_ALL"},
                                             {kMmuextInvlpgAll, "INVLPG_ALL"},
                                             {kMmuextFlushCache, "FLUSH_CACHE"},
                                             {kMmuextSetLdt, "SET_LDT"},
                                             {kMmuextNewUserBaseptr, "NEW_USER_BASEPTR"},
                                             {kMmuextClearPage, "CLEAR_PAGE"},
                                             {kMmuextCopyPage, "COPY_PAGE"},
                                             {kMmuextFlushCacheGlobal, "FLUSH_CACHE_GLOBAL"},
                                             {kMmuextMarkSuper, "MARK_SUPER"},
                                             {kMmuextUnmarkSuper, "UNMARK_SUPER"},
                                             {kMmuextPtPoolAdd, "PT_POOL_ADD"},
                                             {kMmuextPtPoolRemove, "PT_POOL_REMOVE"}});
// The command's name; "cmdN" for a number the ABI does not define (a guest may send any).
std::string mmuext_name(uint32_t cmd);
struct MmuextOp {
  uint32_t cmd = 0;
  uint64_t arg1 = 0;  // mfn (pin/unpin/baseptr/clear/copy) or linear address (invlpg)
  uint64_t arg2 = 0;  // vCPU bitmap (flush/invlpg multi), source mfn (copy), entries (set_ldt)
};

// --- update_va_mapping ------------------------------------------------------------------------
inline constexpr uint64_t kUvmfNone = 0;
inline constexpr uint64_t kUvmfTlbFlush = 1;
inline constexpr uint64_t kUvmfInvlpg = 2;
inline constexpr uint64_t kUvmfFlushTypeMask = 3;
inline constexpr uint64_t kUvmfLocal = 0;
inline constexpr uint64_t kUvmfAll = 4;
inline constexpr uint64_t kUvmfMulti = 8;  // model: target set is the vcpumask argument

struct UpdateVaMapping {
  Vaddr va;
  uint64_t val = 0;
  uint64_t flags = 0;
  uint64_t vcpumask = 0;  // with kUvmfMulti
};

// --- vcpu_op: the per-vCPU one-shot timer ---------------------------------------------------
// VCPUOP_set_singleshot_timer / VCPUOP_stop_singleshot_timer. Deadlines are in Xen system time
// (ns); when the timer expires Xen sends the vCPU VIRQ_TIMER.
// sched_op (xen/include/public/sched.h): SCHEDOP_shutdown with a sched_shutdown reason. A
// suspend (HYPERVISOR_suspend) stops the domain for the toolstack to save; the guest runs on
// after the call, in the restored domain, or in the same one when the save was cancelled.
inline constexpr uint32_t kSchedOpShutdown = 2;
inline constexpr uint32_t kShutdownPoweroff = 0;
inline constexpr uint32_t kShutdownReboot = 1;
inline constexpr uint32_t kShutdownSuspend = 2;
inline constexpr uint32_t kShutdownCrash = 3;
inline constexpr uint32_t kShutdownWatchdog = 4;
inline constexpr uint32_t kShutdownSoftReset = 5;
inline constexpr uint32_t kVcpuOpSetSingleshotTimer = 8;
inline constexpr uint32_t kVcpuOpStopSingleshotTimer = 9;
inline constexpr uint32_t kVirqTimer = 0;

// --- memory_op (public/memory.h) -------------------------------------------------------------
// How frames enter and leave a domain. The reservation commands return the number of extents
// completed (a short count is how every failure shows); the statistics commands return a count or
// an error.
enum MemoryOpCmd : uint32_t {
  kXenmemIncreaseReservation = 0,
  kXenmemDecreaseReservation = 1,
  kXenmemCurrentReservation = 3,  // the domain's pages (tot_pages)
  kXenmemMaximumReservation = 4,  // its limit (max_pages)
  kXenmemPopulatePhysmap = 6,
};
// mem_flags: the highest address an allocated frame may have (bits 0-7; 0 = no limit), a NUMA
// node (bits 8-15, node + 1), and modifiers.
inline constexpr uint32_t kXenmemfAddressBitsMask = 0xff;
inline constexpr uint32_t kXenmemfNodeMask = 0xff00;
inline constexpr uint32_t kXenmemfPopulateOnDemand = 1U << 16;
inline constexpr uint32_t kXenmemfExactNodeRequest = 1U << 17;
inline constexpr uint32_t kXenmemfVnode = 1U << 18;
// struct xen_memory_reservation (and xen_memory_domain for the statistics commands: domid only).
struct MemoryReservation {
  // Decrease: the frames given back (for a PV domain a guest frame number is the MFN). Populate:
  // the guest pfns to fill in, overwritten with the MFNs Xen chose. Increase: the MFNs out.
  std::vector<uint64_t> extent_start;
  uint32_t extent_order = 0;  // each extent is 2^order frames
  uint32_t mem_flags = 0;
  DomId domid = kDomidSelf;
};

// --- multicall --------------------------------------------------------------------------------
struct MulticallEntry {
  HypercallNr op = HypercallNr::kMmuUpdate;
  std::vector<MmuUpdate> mmu_updates;  // op == kMmuUpdate
  std::vector<MmuextOp> mmuext_ops;    // op == kMmuextOp
  UpdateVaMapping uvm;                 // op == kUpdateVaMapping
  ForeignDom foreigndom = kDomidSelf;
  int64_t result = 0;  // written by the hypervisor
};

}  // namespace pib::abi
