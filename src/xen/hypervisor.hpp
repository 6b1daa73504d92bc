// SPDX-License-Identifier: MIT
// The hypervisor model: Xen's 64-bit PV memory management without shadow paging. It owns the
// frame table, the M2P, the domains and the TLB clock, and implements the PV hypercall port and
// the ring-0 page-fault handler. Rules follow xen-pv-mmu.md sections A and C; each function names
// the Xen function it models. Charges every unit of work to the ledger.
//
// Callers: guest kernels and scripts (through abi::HypervisorPort only), the domain builder and
// the auditor (through the privileged part of the interface below).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "abi/port.hpp"
#include "common/affine_map.hpp"
#include "hw/machine.hpp"
#include "hw/pte.hpp"
#include "sim/ledger.hpp"
#include "xen/domain.hpp"
#include "xen/frame_table.hpp"
#include "xen/free_frames.hpp"
#include "xen/interleaving.hpp"
#include "xen/params.hpp"
#include "xen/pt_flags.hpp"
#include "xen/validation_policy.hpp"

namespace pib::xen {

// Xen's reserved L4 slots of every 64-bit PV root table, and the guest-usable ones.
inline constexpr uint64_t kFirstXenSlot = 256;
inline constexpr uint64_t kLastXenSlot = 271;
inline constexpr uint64_t kLinearSlot = 258;  // self-map used by Xen's linear page tables
constexpr bool is_guest_l4_slot(uint64_t slot) {
  return slot < kFirstXenSlot || slot > kLastXenSlot;
}

// Xen marks guest-kernel L1 mappings with this software bit (the first of the high AVAIL bits).
inline constexpr uint64_t kPageGuestKernel = uint64_t{1} << 52;

// The port domain was crashed (domain_crash): its vCPUs are paused for good, so nothing it does
// can run any more. Thrown at its next hypercall or memory access; the run ends there.
class DomainCrashed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Hypervisor final : public abi::HypervisorPort, public hw::TrapHandler {
 public:
  Hypervisor(hw::Machine& machine, sim::Ledger& ledger, XenParams params);
  // A copy of `source`'s whole state (frame table, M2P, free list, domains, TLB clock, its
  // validation policy's) running on `machine`, which must be a copy of source's machine
  // (hw::Machine's copy), and charging `ledger`; it installs itself as the machine's trap
  // handler. The fuzzer builds each configuration once and restores it per input this way.
  // Only between hypercalls, with no interleaving observer installed (ModelBug otherwise).
  Hypervisor(const Hypervisor& source, hw::Machine& machine, sim::Ledger& ledger);
  // Holds `source`'s whole state again, in this hypervisor's own storage, after its machine was
  // restored from `source`'s (hw::Machine::restore): the fuzzer runs every input on the same
  // configurations, put back this way. The same conditions as for the copy apply to both.
  void restore(const Hypervisor& source);
  ~Hypervisor() override;
  Hypervisor(const Hypervisor&) = delete;
  Hypervisor& operator=(const Hypervisor&) = delete;

  // ---- abi::HypervisorPort -------------------------------------------------------------
  int64_t mmu_update(VcpuId vcpu, std::span<const abi::MmuUpdate> reqs, uint32_t* done,
                     abi::ForeignDom foreigndom) override;
  int64_t mmuext_op(VcpuId vcpu, std::span<const abi::MmuextOp> ops, uint32_t* done,
                    abi::ForeignDom foreigndom) override;
  int64_t update_va_mapping(VcpuId vcpu, const abi::UpdateVaMapping& args) override;
  int64_t multicall(VcpuId vcpu, std::span<abi::MulticallEntry> entries) override;
  int64_t memory_op(VcpuId vcpu, uint32_t cmd, abi::MemoryReservation& reservation) override;
  int64_t vcpu_op(VcpuId vcpu, uint32_t cmd, uint64_t deadline_ns) override;
  int64_t sched_shutdown(VcpuId vcpu, uint32_t reason) override;
  uint64_t system_time_ns(VcpuId vcpu) const override;
  uint32_t take_pending_virqs(VcpuId vcpu) override;
  hw::MemResult guest_access(VcpuId vcpu, const hw::MemRequest& request) override;
  hw::LoadRun guest_load_run(VcpuId vcpu, Vaddr va, uint32_t count, uint64_t stop_mask,
                             uint64_t* out) override;
  hw::TakeRun guest_take_run(VcpuId vcpu, Vaddr va, uint32_t count, uint64_t mask,
                             hw::TakenWord* taken) override;
  int64_t switch_guest_mode(VcpuId vcpu, bool to_kernel) override;
  Pfn machine_to_phys(Mfn mfn) const override;

  // ---- hw::TrapHandler -----------------------------------------------------------------
  std::optional<hw::MemResult> on_page_fault(hw::Cpu& cpu, const hw::PageFault& fault,
                                             const hw::MemRequest& request) override;

  // ---- privileged interface: domain builder, toolstack, auditor, tests -----------------
  // The port acts on behalf of exactly one guest domain (the one the guest kernel runs in).
  DomId create_domain(const DomainConfig& config);
  // Schedules domain `id` onto its vCPUs' physical CPUs (loading their current root tables) and
  // makes it the domain the port serves.
  void set_port_domain(DomId id);
  Domain& domain(DomId id);
  const Domain& domain(DomId id) const;
  std::vector<DomId> domain_ids() const;
  Mfn alloc_domheap_page(Domain& d);  // kInvalidMfn when memory is exhausted
  // Up to `max` consecutive frames for the domain, exactly the frames that as many
  // alloc_domheap_page calls would return, but set up per run rather than per frame when no
  // IOMMU has to learn of each. Returns the first and sets *count (0: memory exhausted).
  Mfn alloc_domheap_run(Domain& d, uint64_t max, uint64_t* count);
  void set_m2p(Mfn mfn, Pfn pfn) { set_m2p_run(mfn, pfn, 1); }
  void set_m2p_run(Mfn mfn, Pfn pfn, uint64_t count);
  // IOMMU: the domain's I/O page tables (created with the domain when its mode is not kNone),
  // populated as the builder gives it pages; devices assigned to it translate through them.
  void iommu_populate(Domain& d, Mfn mfn);
  void assign_device(DomId id, uint16_t device);
  // The I/O PTE the domain's IOMMU tables hold for a frame (0 when absent): auditor, tests.
  uint64_t iommu_entry(const Domain& d, Mfn mfn) const;
  // Superpage sizes the IOMMU driver merges into (iommu=[no-]superpages and the unit's
  // capability): 0 none, 1 2 MiB, 2 also 1 GiB.
  unsigned iommu_superpage_levels() const;
  // Drops the allocation reference (PGC_allocated) of one of the domain's frames, as
  // guest_remove_page and domain teardown do; the frame is freed when its last reference goes.
  // False when the domain does not own the frame. Not a guest interface (tests, toolstack).
  bool relinquish_page(Domain& d, Mfn mfn);
  // Builder-time pin of a root table and its installation as a vCPU's kernel base pointer.
  int64_t builder_pin_and_install(Domain& d, Mfn l4);
  // ---- toolstack: save and restore (xen/save_restore.hpp, xen/shutdown.cpp) ---------------
  // XEN_DOMCTL_resumedomain: a domain shut down for suspend runs on in place (the guest sees
  // its suspend cancelled). -EINVAL when it is not suspended.
  int64_t resume_domain(DomId id);
  // The restore's pin of a localised table (MMUEXT_PIN_Lx_TABLE on the domain's behalf).
  int64_t toolstack_pin(Domain& d, Mfn mfn, PageType type);
  // arch_set_info_guest for a restored vCPU: its kernel and user root tables (kInvalidMfn: no
  // user table) and the guest mode it was saved in; loads nothing (set_port_domain does).
  int64_t toolstack_set_vcpu_tables(Domain& d, VcpuId vcpu, Mfn kernel, Mfn user, bool in_kernel);

  const FrameTable& frame_table() const { return frames_; }
  // Records every frame-table entry that may change (the incremental auditor; nullptr: stop).
  void set_frame_write_log(DirtyFrames* log) { frames_.set_write_log(log); }
  // Host bytes of Xen's per-frame state (frame table, M2P, free list): memory accounting, tests.
  uint64_t metadata_host_bytes() const;
  const XenParams& params() const { return params_; }
  hw::Machine& machine() { return machine_; }
  const hw::Machine& machine() const { return machine_; }
  sim::Ledger& ledger() { return ledger_; }
  Mfn xen_l3() const { return xen_l3_; }
  uint64_t tlbflush_clock() const { return tlbflush_clock_; }
  uint64_t tlbflush_time(CpuId cpu) const { return tlbflush_time_.at(cpu); }
  // The domain whose vCPU state the CPU holds (per_cpu(curr_vcpu)): the one in whose
  // dirty_cpumask the CPU is, and whose translations its TLB may cache. kNoOwner: none yet.
  DomId loaded_domain(CpuId cpu) const { return loaded_.at(cpu).domain; }

  // ---- validation policies (xen/validation_policy.hpp) ------------------------------------
  // The policy type changes consult (default: Xen's own, CombinedValidation). Installed before
  // the domain is built.
  void set_validation_policy(std::unique_ptr<ValidationPolicy> policy);
  const ValidationPolicy& validation_policy() const { return *validation_; }
  ValidationPolicy& validation_policy() { return *validation_; }  // tests driving its hooks
  // Services a policy may use. A frame's state, to change (the caller checked valid()).
  PageInfo& policy_frame(Mfn mfn) { return frames_[mfn]; }
  // Clears the frame's I/O PTE without any invalidation: kCleared if it was present, kNoMemory
  // if it lies in an I/O superpage that could not be split for want of a table (nothing
  // changed then).
  enum class IoClear { kCleared, kNotMapped, kNoMemory };
  IoClear iommu_clear(Domain& d, Mfn mfn);
  // Maps the frame DMA-writable again without any invalidation; *needs_flush says whether the
  // IOMMU needs one before the mapping is safe to rely on (caching mode). False when an I/O
  // table could not be allocated. A no-op (true) where the domain has no I/O page tables.
  bool iommu_restore_unflushed(Domain& d, Mfn mfn, bool* needs_flush);
  // Synchronous IOTLB invalidations: one page, or the whole domain.
  void iommu_flush_page(Domain& d, Mfn dfn);
  void iommu_flush_domain(Domain& d);
  // A type reference taken and dropped by a policy's own command, with Xen's rules (see
  // get_page_type): REMOVE holds a writable one across its remap.
  int64_t policy_get_page_type(Mfn mfn, PageType type, Domain& d) {
    return get_page_type(mfn, type, d);
  }
  void policy_put_page_type(Mfn mfn, Domain& d) { put_page_type(mfn, d); }

  // ---- interleaving points (xen/interleaving.hpp) -----------------------------------------
  // The observer (none by default) sees every internal step that a device or another vCPU
  // could act between; it outlives its installation.
  void set_interleaving_observer(InterleavingObserver* observer) { observer_ = observer; }
  // Announces a step of the current vCPU's hypercall (a policy's steps too).
  void interleave(Step step, Mfn mfn, bool reentrant = false) {
    if (observer_ != nullptr) [[unlikely]]
      announce(step, mfn, reentrant);
  }
  // Domain teardown (domain_relinquish_resources, xen/domain_teardown.cpp): the domain's
  // devices and I/O page tables go first, then its vCPUs' root tables, its pins and its
  // pages, which return to Xen's free list. The domain stays listed, dying and empty.
  void destroy_domain(DomId id);

 private:
  // ---- references and types (page_types.cpp) ------------------------------------------
  bool get_page(Mfn mfn, const Domain& d);
  void put_page(Mfn mfn);
  // The final put_page's IOMMU clean-up of a frame about to be freed: not kOk when the frame
  // could not leave the IOMMU (no memory to split an I/O superpage), and is then leaked.
  int64_t cleanup_page_mappings(Mfn mfn);
  // `preemptible` (Xen's PTF_preemptible, get_page_type_preemptible): an L2-L4 validation may
  // stop part-way with kERESTART, leaving the frame PGT_partial; the next acquisition of the
  // same type takes the validation over where it stopped. Only hypercall paths that can
  // continue pass it (pins, base pointers, L3/L4 entry updates and the children they validate).
  int64_t get_page_type(Mfn mfn, PageType type, Domain& d, bool preemptible = false);
  // `partial_set` (PTF_partial_set): drop only what a PGT_partial state holds (nothing if the
  // frame is no longer partial). kERESTART when a preemptible devalidation stopped part-way.
  int64_t put_page_type(Mfn mfn, Domain& d, bool preemptible = false, bool partial_set = false);
  // get_page_and_type_from_mfn: with `partial_set` the caller already holds the general
  // reference; `retain_on_restart` keeps it when the validation stops part-way (a parent table's
  // entry then holds it). A failed validation whose teardown is deferred keeps it too (it goes to
  // old_guest_table with the frame).
  int64_t get_page_and_type(Mfn mfn, Domain& d, PageType type, bool preemptible = false,
                            bool partial_set = false, bool retain_on_restart = false);
  void put_page_and_type(Mfn mfn, Domain& d);
  // put_page_and_type_preemptible: on kERESTART the general reference is still held.
  int64_t put_page_and_type_preemptible(Mfn mfn, Domain& d);
  // The type acquisition's end after a PT validation returned `rc` (validate_page's outcomes).
  int64_t finish_validation(Mfn mfn, int64_t rc, bool resumed);
  // True when `mfn` is the current vCPU's old_guest_table.
  bool is_old_guest_table(Mfn mfn) const;
  // A general reference on `mfn` that Xen's own path leaves with no holder (xen.ref_leaked):
  // recorded in the frame so that the auditor can count it.
  void leak_general_ref(Mfn mfn);
  // Defers the teardown of a table whose validation failed part-way (old_guest_table, partial).
  // `entry_was_partial`: the failing entry is the resumed partial one (it holds a general
  // reference on its child).
  void defer_failed_validation(Mfn mfn, Mfn failed_child, bool entry_was_partial);
  // Returns an error when the IOMMU update a type change needs fails (modern Xen fails the
  // type acquisition; paper-era Xen reports and carries on).
  int64_t change_type(Mfn mfn, PageType from, PageType to, Domain& d);

  // ---- memory_op (memory_op.cpp) --------------------------------------------------------
  int64_t reservation_op(uint32_t cmd, abi::MemoryReservation& r, Domain& caller);
  // The frames of one extent given back (guest_remove_page for each); false where Xen stops.
  bool decrease_extent(Domain& d, uint64_t gmfn, uint32_t order);
  int64_t guest_remove_page(Domain& d, Mfn gmfn);
  // One extent of 2^order consecutive frames for `d`, below `limit` (kInvalidMfn when none).
  Mfn alloc_extent(Domain& d, uint32_t order, Mfn limit);
  // guest_physmap_add_page of a PV domain: the IOMMU learns of the frames, the M2P of their pfns.
  bool physmap_add(Domain& d, Mfn first, uint64_t gpfn, uint32_t order);
  // A frame freed while the domain lives may still be cached by some CPU's TLB: before it is
  // handed out again, every CPU that has not flushed since the free flushes (alloc_heap_pages
  // and the TLB clock). A no-op for frames never freed that way.
  void flush_before_reuse(Mfn first, uint64_t count);

  // ---- IOMMU synchronisation (iommu_sync.cpp) -----------------------------------------------
  int64_t iommu_map(Domain& d, Mfn mfn, bool writable);
  int64_t iommu_unmap(Domain& d, Mfn mfn);

  // ---- I/O page tables (iommu_pt.cpp) ---------------------------------------------------
  // The tables on one I/O frame's path: table[level] for levels 4 (the root) down to 1.
  struct IoPath {
    std::array<Mfn, 5> table{};
  };
  enum class IoWalk { kOk, kAbsent, kNoMemory };
  // Walks to the level-1 table of `dfn`, allocating missing tables when `create`. A superpage
  // met on the way is split into a table of 512 smaller entries mapping the same block
  // (*shattered), create or not, as addr_to_dma_page_maddr does for a 4 KiB target.
  IoWalk iommu_walk(Domain& d, uint64_t dfn, bool create, IoPath& path, bool* shattered);
  // After dfn's leaf was written present: each table on its path the write made one aligned,
  // contiguous run of identical entries becomes one superpage entry in its parent, as far as
  // the sizes Xen uses reach. The replaced tables go to `freed`; true if any was replaced.
  bool iommu_coalesce(const IoPath& path, uint64_t dfn, std::vector<Mfn>& freed);
  // After dfn's leaf was cleared: level-1 and level-2 tables left empty leave their parents
  // (Xen 4.17 frees them). True if any did.
  bool iommu_prune(const IoPath& path, uint64_t dfn, std::vector<Mfn>& freed);
  // Tables replaced or emptied go back to Xen's heap once the domain-wide flush is done.
  void iommu_free_tables(const std::vector<Mfn>& freed);
  Mfn alloc_io_table();

  // ---- validation (validate.cpp) ---------------------------------------------------------
  // promote_lN_table / demote_lN_table. `resumed`: carry on from the frame's PGT_partial
  // progress. Preemptible ones return kERESTART with the progress recorded in the frame.
  int64_t validate_table(Mfn mfn, PageType type, Domain& d, bool preemptible, bool resumed);
  int64_t devalidate_table(Mfn mfn, PageType type, Domain& d, bool preemptible, bool resumed);
  // Records where a preempted (de)validation stops and charges the preemption.
  int64_t preempted_at(Mfn mfn, uint64_t index);
  void init_xen_l4_slots(Mfn l4);
  // `pg_owner` is the domain whose frames the entry may map (mmu_update's foreigndom): the
  // table's own domain, another domain (for a control domain), DOMID_IO or DOMID_XEN.
  int64_t get_page_from_l1e(hw::Pte e, Domain& d, DomId pg_owner);
  int64_t get_page_from_l1e(hw::Pte e, Domain& d) { return get_page_from_l1e(e, d, d.id); }
  void put_page_from_l1e(hw::Pte e, Domain& d);
  int64_t get_page_from_upper(hw::Pte e, Mfn table, unsigned level, Domain& d,
                              bool preemptible = false, bool partial_set = false,
                              bool retain_on_restart = false);
  // Returns the child whose type+general ref must still be dropped (kInvalidMfn if none).
  Mfn release_upper_entry(hw::Pte e, Mfn table, unsigned level);
  int64_t put_page_from_upper(hw::Pte e, Mfn table, unsigned level, Domain& d,
                              bool preemptible = false, bool partial_set = false);
  int64_t get_linear_pagetable(hw::Pte e, Mfn table, unsigned level, Domain& d);
  hw::Pte adjust_guest_entry(hw::Pte e, unsigned level) const;

  // ---- entry updates (mod_entry.cpp) -----------------------------------------------------
  int64_t mod_l1_entry(Mfn table, uint64_t index, hw::Pte value, Domain& d, bool preserve_ad,
                       DomId pg_owner);
  int64_t mod_upper_entry(Mfn table, unsigned level, uint64_t index, hw::Pte value, Domain& d,
                          Vcpu& v, bool preserve_ad);
  bool fast_path_ok(hw::Pte old_e, hw::Pte new_e, unsigned level) const;
  bool upper_put_is_deferred(unsigned level) const;
  // put_old_guest_table: drops the deferred reference; kERESTART when its devalidation was
  // preempted (it stays pending, now partial).
  int64_t put_old_guest_table(Vcpu& v, Domain& d, bool preemptible = true);
  // A pending old_guest_table ends the invocation: back to the guest (softirqs run), then the
  // continuation re-enters `hypercall` and first runs put_old_guest_table. False when that put
  // was preempted again (the caller then stops with kERESTART).
  bool continue_into_old_guest_table(Vcpu& v, Domain& d, sim::Event hypercall);
  // The same at the end of a batch: continuations until the deferred put is complete.
  void finish_old_guest_table(Vcpu& v, Domain& d, sim::Event hypercall);
  // One request of an mmu_update naming `pg_owner` (get_pg_owner); *xsm_checked records that
  // the XSM check a page-table or machphys request needs has passed in this invocation.
  // `pt` is the page-table owner (PFD; the caller `d` itself unless foreigndom names another).
  int64_t do_one_mmu_update(const abi::MmuUpdate& req, Domain& d, Domain& pt, Vcpu& v,
                            DomId pg_owner, bool* xsm_checked, bool* touched_upper);
  // The XSA-286 flush of an mmu_update invocation that changed upper entries (modern Xen);
  // clears *touched_upper.
  void flush_linear_pt(Domain& pt, bool* touched_upper);
  // get_pg_owner: the domain foreigndom names (*pg_owner: the caller's id for DOMID_SELF,
  // another domain's, DOMID_IO or DOMID_XEN), or -ESRCH for the caller's own numeric id and
  // for an id no domain has.
  int64_t get_pg_owner(DomId foreigndom, const Domain& d, DomId* pg_owner) const;
  // The domain whose frames `pg_owner` (get_pg_owner's answer for `caller`) names: the caller
  // itself or another domain; nullptr for DOMID_IO and DOMID_XEN, which own no frame a guest
  // can name in the model.
  Domain* page_owner(DomId pg_owner, Domain& caller);
  // The dummy XSM policy's XSM_TARGET rule: a domain may act on its own pages, a control
  // domain (the model's `privileged`) on anyone's; else -EPERM.
  int64_t xsm_target(const Domain& d, DomId pg_owner) const;

  // ---- mmuext (mmuext.cpp) ---------------------------------------------------------------
  // One op of an mmuext_op naming page owner `pg_owner` (the caller's id when not foreign).
  int64_t do_one_mmuext(const abi::MmuextOp& op, Domain& d, Vcpu& v, DomId pg_owner);
  int64_t clear_or_copy_page(const abi::MmuextOp& op, Domain& owner);
  static bool is_xen_mmuext(uint32_t cmd);
  // `preemptible`: a guest's mmuext_op (the builder and the toolstack pass false).
  int64_t pin_table(Mfn mfn, PageType type, Domain& d, bool preemptible);
  int64_t unpin_table(Mfn mfn, Domain& d, Vcpu& v);
  int64_t new_guest_cr3(Mfn mfn, Domain& d, Vcpu& v, bool preemptible);
  int64_t new_user_baseptr(Mfn mfn, Domain& d, Vcpu& v, bool preemptible);
  // Drops a replaced root table's references; a preempted devalidation leaves it to
  // old_guest_table and returns kERESTART.
  int64_t put_old_base(Mfn old, Domain& d, Vcpu& v, bool preemptible);

  // ---- update_va_mapping, ptwr emulation (va_mapping.cpp, ptwr.cpp) ------------------------
  // Finds the L1 table mapping `va` through Xen's linear page table on the vCPU's CPU.
  Mfn map_guest_l1e(Vaddr va, Vcpu& v, Domain& d);
  std::optional<hw::MemResult> ptwr_emulate(Vcpu& v, Domain& d, const hw::PageFault& fault,
                                            const hw::MemRequest& request);

  // ---- TLB maintenance (flush.cpp) ---------------------------------------------------------
  // Flushes run "on" current_pcpu_ (the CPU of the vCPU whose hypercall is being served);
  // every other CPU in a mask is reached by IPI.
  void flush_mask(uint64_t cpumask);
  void invlpg_mask(uint64_t cpumask, Vaddr va);
  uint64_t filter_by_timestamp(uint64_t cpumask, uint64_t page_stamp) const;
  void write_ptbase(Vcpu& v, Domain& d);
  // The guest kernel<->user switch (toggle_guest_mode): flips v.in_kernel and loads the other
  // root table.
  void toggle_guest_pt(Vcpu& v);
  // A hypercall instruction executed in guest user mode: Xen bounces it to the guest kernel as
  // a syscall (switching the vCPU to kernel mode) and serves nothing. True when that happened.
  bool bounce_user_mode_hypercall(VcpuId vcpu);
  uint64_t vcpumask_to_pcpus(const Domain& d, uint64_t vcpumask) const;

  // ---- time (timer.cpp) ---------------------------------------------------------------------
  // A guest-to-Xen transition on behalf of `vcpu` (charges it; takes interrupts that arrived in
  // guest time first).
  void hypercall_entry(VcpuId vcpu);
  // The port domain's vCPU, which must be able to run (DomainCrashed when it was crashed).
  Vcpu& running_vcpu(VcpuId vcpu);
  // domain_crash (common/domain.c): shut down with SHUTDOWN_crash (a first reason is kept); the
  // current hypercall goes on to its end, the vCPUs never run again.
  void domain_crash(Domain& d);
  // iommu_map / iommu_unmap (drivers/passthrough/iommu.c): a failed update crashes any domain
  // but the hardware domain (the model's privileged one), which is only told.
  void iommu_update_failed(Domain& d);
  // hypercall_preempt_check: a softirq is pending on this CPU, i.e. its timer interrupt arrived.
  bool hypercall_preempt_check() const;
  // The softirq work Xen does before it returns to a guest: TIMER_SOFTIRQ runs the expired
  // one-shot timers (raising VIRQ_TIMER) and reprograms the CPU's timer.
  void do_softirq();
  void program_timer(CpuId pcpu);
  // A hypercall preempted with `left` items still to do re-enters through a continuation.
  void reenter_preempted(sim::Event hypercall, sim::Event requeued, uint64_t left);
  // The guest-visible hypercall over `items`: `body` re-entered through continuations until it
  // finishes or fails; *done gets the items completed in all.
  template <typename Item, typename Body>
  int64_t with_continuations(std::span<const Item> items, uint32_t* done, sim::Event hypercall,
                             sim::Event requeued, Body body) {
    uint32_t total = 0;
    uint32_t part = 0;
    int64_t rc = body(items, &part);
    total += part;
    while (rc == abi::err::kERESTART) {
      reenter_preempted(hypercall, requeued, items.size() - total);
      rc = body(items.subspan(total), &part);
      total += part;
    }
    if (done != nullptr) *done = total;
    do_softirq();
    return rc;
  }
  // A sub-call preempted after `done` items: Xen writes its continuation into the guest's
  // entry, which then holds the items left (announced again when the multicall re-enters).
  template <typename Item>
  void keep_items_left(std::vector<Item>& items, uint32_t done, sim::Event requeued) {
    items.erase(items.begin(), items.begin() + done);
    ledger_.charge(requeued, items.size());
  }

  // Hypercall bodies without the guest->Xen entry charge (multicall sub-calls reuse them).
  // They return abi::err::kERESTART when preempted, with `done` items completed.
  int64_t mmu_update_body(VcpuId vcpu, std::span<const abi::MmuUpdate> reqs, uint32_t* done,
                          abi::ForeignDom foreigndom);
  int64_t mmuext_op_body(VcpuId vcpu, std::span<const abi::MmuextOp> ops, uint32_t* done,
                         abi::ForeignDom foreigndom);
  int64_t update_va_mapping_body(VcpuId vcpu, const abi::UpdateVaMapping& args);
  // Runs entries until done or preempted; returns how many completed (a preempted sub-call has
  // been rewritten in place to what it has left, and is not counted). An iret's result goes to
  // *rc.
  std::size_t multicall_body(VcpuId vcpu, std::span<abi::MulticallEntry> entries, int64_t* rc);
  int64_t multicall_entry(VcpuId vcpu, abi::MulticallEntry& e);
  void charge_continuation(sim::Event hypercall);
  int64_t switch_mode_body(VcpuId vcpu, bool to_kernel);

  Domain& port_dom();
  Vcpu& port_vcpu(VcpuId id);                         // also makes that vCPU's CPU the current one
  void announce(Step step, Mfn mfn, bool reentrant);  // interleaving.cpp

  hw::Machine& machine_;
  hw::MachineMemory& mem_;
  sim::Ledger& ledger_;
  XenParams params_;
  FrameTable frames_;
  AffineMap m2p_{kInvalidPfn.value};
  FreeFrames free_frames_;
  std::vector<std::unique_ptr<Domain>> domains_;
  DomId port_domain_ = 0;
  CpuId current_pcpu_ = 0;
  Mfn xen_l3_ = kInvalidMfn;
  uint64_t tlbflush_clock_ = 1;
  std::vector<uint64_t> tlbflush_time_;
  struct LoadedVcpu {
    DomId domain = kNoOwner;
    VcpuId vcpu = 0;
  };
  std::vector<LoadedVcpu> loaded_;  // per CPU: whose vCPU state it holds (loaded_domain)
  std::unique_ptr<ValidationPolicy> validation_;
  InterleavingObserver* observer_ = nullptr;
  bool freed_while_running_ = false;  // some free frame carries a TLB-clock stamp (see above)
  VcpuId current_vcpu_ = 0;           // the vCPU whose hypercall is being served
  uint32_t announce_depth_ = 0;       // > 0 while an observer runs (no frame-table compaction)
};

}  // namespace pib::xen
