// SPDX-License-Identifier: MIT
// Page-table validation and devalidation (promote_lN_table / demote_lN_table), the per-entry
// reference rules (get_page_from_lNe / put_page_from_lNe), linear page tables, the flag masks and
// Xen's reserved L4 slots.
#include <limits>

#include "common/error.hpp"
#include "xen/hypervisor.hpp"
#include "xen/pt_flags.hpp"

namespace pib::xen {

using hw::Pte;
using namespace hw::pte_bits;
using sim::Event;

namespace {
// Chunks written before a compaction is tried: amortises the scan of chunks that stay mixed.
constexpr uint64_t kCompactAfterChunks = 16;

// Xen reads every entry of a table it (de)validates, and the model charges them all
// (xen.validate.entries_scanned); these only find the present ones quickly, over the frame's
// words. The frame is looked up again each time: the work on one entry may change memory.
uint64_t first_present_from(const hw::MachineMemory& mem, Mfn mfn, uint64_t i) {
  const uint64_t* w = mem.frame_words(mfn);
  if (w == nullptr) return kEntriesPerTable;
  // Four entries at a time over the empty stretches, then one by one.
  while (i + 4 <= kEntriesPerTable && ((w[i] | w[i + 1] | w[i + 2] | w[i + 3]) & kPresent) == 0) {
    i += 4;
  }
  while (i < kEntriesPerTable && (w[i] & kPresent) == 0) ++i;
  return i;
}
// One past the last present entry below `end`, or 0 if there is none.
uint64_t last_present_below(const hw::MachineMemory& mem, Mfn mfn, uint64_t end) {
  const uint64_t* w = mem.frame_words(mfn);
  if (w == nullptr) return 0;
  while (end >= 4 && ((w[end - 1] | w[end - 2] | w[end - 3] | w[end - 4]) & kPresent) == 0) {
    end -= 4;
  }
  while (end > 0 && (w[end - 1] & kPresent) == 0) --end;
  return end;
}
}  // namespace

Pte Hypervisor::adjust_guest_entry(Pte e, unsigned level) const {
  if (!e.present()) return e;
  if (level == 1) {
    // The guest kernel runs in ring 3: its mappings must be user-accessible to the CPU, and are
    // tagged so that Xen can tell them from the guest's user mappings.
    if (!e.has(kUser)) return e.with(kUser | kPageGuestKernel);
    return e.with(kGlobal);
  }
  if (level == 4) return e.with(kUser | kAccessed);
  return e.with(kUser);
}

bool Hypervisor::fast_path_ok(Pte old_e, Pte new_e, unsigned level) const {
  // Xen's l1e_has_changed: the frame bits are compared over its whole address field (bits
  // 12-51), so setting a bit the machine lacks is a change of frame.
  if (!old_e.present() || ((old_e.raw() ^ new_e.raw()) & kXenPaddrMask) != 0) return false;
  uint64_t whitelist = kFastPathWhitelist;
  if (level > 1 && !params_.pv_linear_pt) whitelist |= kRw;
  return ((old_e.raw() ^ new_e.raw()) & kAllFlags & ~whitelist) == 0;
}

// Follows get_page_from_l1e (xen/arch/x86/mm.c, 4.17): disallowed flags are -EINVAL; a frame
// that is not RAM is MMIO and needs I/O-memory permission (-EPERM without it); a RAM frame the
// domain cannot reference, or cannot take a writable type reference on, is -EBUSY.
int64_t Hypervisor::get_page_from_l1e(Pte e, Domain& d, DomId pg_owner) {
  if (!e.present()) return abi::err::kOk;
  if (e.flags() & l1_disallow_mask(d.may_use_cache_attrs())) return abi::err::kEINVAL;
  const uint64_t frame = xen_frame_number(e);
  if (!frames_.valid(Mfn{frame})) {
    // No domain of the model holds I/O-memory ranges (MMIO is not modelled), so every such
    // mapping lacks the permission; Xen's INVALID_MFN pattern is a plain invalid entry.
    return frame == kXenInvalidFrameNumber ? abi::err::kEINVAL : abi::err::kEPERM;
  }
  const Mfn target{frame};
  // The frame must be the page owner's (could_not_pin otherwise): the caller's own, or, for a
  // control domain naming another domain, that domain's (a foreign mapping, whose references
  // and type changes are the owner's). A frame of anyone else, and every RAM frame under
  // DOMID_IO or DOMID_XEN (no RAM a guest can name is theirs: xsm_priv_mapping refuses to
  // transfer the right), is refused.
  Domain* const owner_domain = page_owner(pg_owner, d);
  if (owner_domain == nullptr) return abi::err::kEBUSY;
  Domain& owner = *owner_domain;
  if (!get_page(target, owner)) return abi::err::kEBUSY;  // not theirs (or free, or Xen's)
  if (e.has(kRw)) {
    // The point where a live page table cannot be mapped writable: its type count is > 0 with
    // a page-table type, so the writable type reference is refused.
    if (get_page_type(target, PageType::kWritable, owner) != abi::err::kOk) {
      put_page(target);
      return abi::err::kEBUSY;
    }
  }
  return abi::err::kOk;
}

void Hypervisor::put_page_from_l1e(Pte e, Domain& d) {
  if (!e.present()) return;
  const Mfn target = e.mfn();
  if (e.has(kRw)) put_page_type(target, d);
  put_page(target);
}

int64_t Hypervisor::get_linear_pagetable(Pte e, Mfn table, unsigned level, Domain& d) {
  // A same-level ("linear") entry: read-only, target already validated, one level only.
  if (!params_.pv_linear_pt || level < 2) return abi::err::kEINVAL;
  if (e.has(kRw)) return abi::err::kEINVAL;
  const Mfn target = e.mfn();
  if (target == table) return abi::err::kOk;  // self-map: no references taken
  PageInfo& parent = frames_[table];
  if (!frames_.valid(target)) return abi::err::kEINVAL;
  PageInfo& child = frames_[target];
  // XSA-240: a table holding linear entries may not itself be linearly mapped, and vice versa.
  if (parent.linear_pt_count < 0 || child.linear_pt_count > 0) return abi::err::kEINVAL;
  if (!get_page(target, d)) return abi::err::kEINVAL;
  if (child.type != pt_type_of_level(level) || !child.validated || child.type_count == 0) {
    put_page(target);
    return abi::err::kEINVAL;
  }
  ++child.type_count;
  ++parent.linear_pt_count;
  --child.linear_pt_count;
  return abi::err::kOk;
}

int64_t Hypervisor::get_page_from_upper(Pte e, Mfn table, unsigned level, Domain& d,
                                        bool preemptible, bool partial_set,
                                        bool retain_on_restart) {
  if (!e.present()) return abi::err::kOk;
  if (e.flags() & kBaseDisallow) return abi::err::kEINVAL;  // PSE, PWT, PCD, G at L2-L4
  // get_page_from_mfn fails for a frame outside RAM, including one named by bits 46-51.
  if (!frames_.valid(Mfn{xen_frame_number(e)})) return abi::err::kEINVAL;
  const Mfn target = e.mfn();
  // get_page_from_l3e/l4e validate their L2/L3 child preemptibly; an L2's L1 children never are.
  int64_t rc = get_page_and_type(target, d, pt_type_of_level(level - 1), preemptible && level >= 3,
                                 partial_set, retain_on_restart);
  if (rc == abi::err::kEINVAL && frames_[target].type == pt_type_of_level(level)) {
    rc = get_linear_pagetable(e, table, level, d);
  }
  return rc;
}

Mfn Hypervisor::release_upper_entry(Pte e, Mfn table, unsigned level) {
  if (!e.present()) return kInvalidMfn;
  const Mfn target = e.mfn();
  if (target == table) return kInvalidMfn;  // self-map held nothing
  if (frames_[target].type == pt_type_of_level(level)) {
    ++frames_[target].linear_pt_count;
    --frames_[table].linear_pt_count;
  }
  return target;
}

int64_t Hypervisor::put_page_from_upper(Pte e, Mfn table, unsigned level, Domain& d,
                                        bool preemptible, bool partial_set) {
  // An entry holding a partial child had its linear accounting (none: partial children are
  // never linear) settled when it stopped; only the child's partial state is left to drop.
  const Mfn child = partial_set ? e.mfn() : release_upper_entry(e, table, level);
  if (child == kInvalidMfn) return abi::err::kOk;
  const int64_t rc = put_page_type(child, d, preemptible && level >= 3, partial_set);
  if (rc == abi::err::kOk) put_page(child);
  return rc;
}

void Hypervisor::init_xen_l4_slots(Mfn l4) {
  ledger_.charge(Event::kXenL4XenSlotsWritten);
  for (uint64_t slot = kFirstXenSlot; slot <= kLastXenSlot; ++slot) {
    const Mfn target = slot == kLinearSlot ? l4 : xen_l3_;
    mem_.write_entry(l4, slot, Pte::make(target, kPresent | kRw | kAccessed | kDirty).raw());
  }
}

int64_t Hypervisor::preempted_at(Mfn mfn, uint64_t index) {
  PageInfo& pg = frames_[mfn];
  pg.nr_validated = static_cast<uint16_t>(index);
  pg.partial_entry = false;
  ledger_.charge(Event::kXenPreempted);
  return abi::err::kERESTART;
}

void Hypervisor::leak_general_ref(Mfn mfn) {
  PageInfo& pg = frames_[mfn];
  if (pg.leaked_refs == std::numeric_limits<uint16_t>::max()) {
    model_bug("leaked references overflow");
  }
  ++pg.leaked_refs;
  ledger_.charge(Event::kXenRefLeaked);
}

void Hypervisor::defer_failed_validation(Mfn mfn, Mfn failed_child, bool entry_was_partial) {
  // promote_l2/l3/l4_table on a failure past entry 0: no teardown here; the table goes to
  // old_guest_table as partial, and put_old_guest_table (preemptible) undoes the entries before
  // the failing one. The failing entry keeps the general reference on its child
  // (PTF_partial_set) when it already held one (a resumed partial entry) or when the child's
  // own failure was deferred the same way (the child hands its reference over).
  Vcpu& v = port_dom().vcpus[current_vcpu_];
  // The teardown will be a devalidation of its own; its scan is charged now, as the resumed
  // demotion that performs it charges none.
  ledger_.charge(Event::kXenDevalidateTables);
  ledger_.charge(Event::kXenDevalidateEntriesScanned, kEntriesPerTable);
  const bool child_deferred = failed_child != kInvalidMfn && v.old_guest_table == failed_child;
  if (v.old_guest_table && !child_deferred) {
    // A deferred teardown further down that is not the failing entry's child (its parent failed
    // at entry 0, inline, e.g. below a linear entry 0 of this table): Xen asserts this cannot
    // happen (ASSERT_UNREACHABLE, "safer to leak a type ref on production builds") and replaces
    // old_guest_table. The table it held stays partial for good, with the general reference
    // old_guest_table held: leaked, as in a release build.
    leak_general_ref(*v.old_guest_table);
  }
  PageInfo& pg = frames_[mfn];
  pg.partial_entry = entry_was_partial || child_deferred;
  v.old_guest_table = mfn;
  v.old_guest_table_partial = true;
}

// promote_l1_table .. promote_l4_table (4.17). Preemptible L2 and L3 validations check for a
// pending softirq before every entry after the first of this invocation; an L4 validation is
// preempted only through its L3 children, an L1 validation never. Time passes only while entries
// are handled, so one check before the next present entry (and one after the last) answers as
// Xen's check at every index would; Xen would stop at the first index after the last one
// handled, which is where the work resumes (nr_validated).
int64_t Hypervisor::validate_table(Mfn mfn, PageType type, Domain& d, bool preemptible,
                                   bool resumed) {
  const unsigned level = level_of(type);
  const uint64_t start = resumed ? frames_[mfn].nr_validated : 0;
  const bool start_partial = resumed && frames_[mfn].partial_entry;
  if (!resumed) {
    // The whole scan is charged once, when the validation begins.
    ledger_.charge(Event::kXenValidateTables);
    ledger_.charge(Event::kXenValidateEntriesScanned, kEntriesPerTable);
  }
  const bool checks = preemptible && (level == 2 || level == 3);
  // A failure past entry 0 is torn down through old_guest_table for L3/L4 tables, and for L2s
  // since 4.12; before that, promote_l2_table undid its entries inline.
  const bool defer_failure =
      preemptible && (level >= 3 || (level == 2 && params_.generation == XenGeneration::kModern));
  bool first_check = true;  // Xen's check at index start + 1 is still to come
  for (uint64_t i = first_present_from(mem_, mfn, start); i < kEntriesPerTable;
       i = first_present_from(mem_, mfn, i + 1)) {
    if (level == 4 && !is_guest_l4_slot(i)) continue;
    if (checks && first_check && i > start && hypercall_preempt_check()) {
      return preempted_at(mfn, start + 1);
    }
    first_check = false;
    const Pte e{mem_.read_entry(mfn, i)};
    // The entry holding a partial child is handled again, but counted once.
    const bool again = start_partial && i == start;
    if (!again) ledger_.charge(Event::kXenValidateEntriesPresent);
    const int64_t rc = level == 1 ? get_page_from_l1e(e, d)
                                  : get_page_from_upper(e, mfn, level, d, preemptible, again,
                                                        /*retain_on_restart=*/true);
    if (rc == abi::err::kERESTART) {
      // The child's validation stopped part-way: this entry keeps its general reference on it.
      PageInfo& pg = frames_[mfn];
      pg.nr_validated = static_cast<uint16_t>(i);
      pg.partial_entry = true;
      return rc;
    }
    if (rc != abi::err::kOk) {
      if (defer_failure && i > 0) {
        frames_[mfn].nr_validated = static_cast<uint16_t>(i);
        defer_failed_validation(mfn, level == 1 ? kInvalidMfn : e.mfn(), again);
        return rc;
      }
      if (again && !is_old_guest_table(e.mfn())) {
        // The entry's child was partial and has failed without deferring its own teardown (it
        // failed at its first entry too). get_page_and_type_from_mfn keeps the general
        // reference the entry held (PTF_partial_set: it expects the child to be
        // old_guest_table now), and promote_lN_table hands a failure over to old_guest_table
        // only past entry 0: nothing will ever drop that reference. Xen 4.17 leaks it; so does
        // the model, and records it.
        leak_general_ref(e.mfn());
      }
      // Undo the references taken by the entries before this one.
      for (uint64_t j = i; j-- > 0;) {
        if (level == 4 && !is_guest_l4_slot(j)) continue;
        const Pte taken{mem_.read_entry(mfn, j)};
        if (level == 1) {
          put_page_from_l1e(taken, d);
        } else {
          put_page_from_upper(taken, mfn, level, d);
        }
      }
      return rc;
    }
    const Pte adjusted = adjust_guest_entry(e, level);
    if (adjusted != e) mem_.write_entry(mfn, i, adjusted.raw());
    if (checks && i + 1 < kEntriesPerTable && hypercall_preempt_check()) {
      return preempted_at(mfn, i + 1);
    }
  }
  if (checks && first_check && start + 1 < kEntriesPerTable && hypercall_preempt_check()) {
    return preempted_at(mfn, start + 1);
  }
  if (level == 4) {
    init_xen_l4_slots(mfn);
    ++d.nr_l4_pages;
  }
  // An L1 validation references up to 512 frames, which materialises their frame-table chunks;
  // validating the builder's direct map would so make the table dense. Frames that end up in
  // one shared state fold back here. Safe: the only frame-table references held up the stack
  // are get_page_type's, for tables still being validated (type count 1, not validated), and
  // no chunk of 512 frames can consist of those alone; callers look their frame up again.
  // Not while an interleaving observer runs: the hypercall it interrupted may hold references.
  if (level == 1 && announce_depth_ == 0 &&
      frames_.chunks_written_since_compact() >= kCompactAfterChunks) {
    frames_.compact();
  }
  return abi::err::kOk;
}

// demote_l1_table .. demote_l4_table (4.17): entries are left as they are; only the references
// they held are dropped, L2-L4 in reverse order from where the references end (nr_validated,
// and the entry holding a partial child first). Preemptible L2 and L3 devalidations check after
// every entry but the last (index 0); an L4 stops only through its L3 children.
int64_t Hypervisor::devalidate_table(Mfn mfn, PageType type, Domain& d, bool preemptible,
                                     bool resumed) {
  const unsigned level = level_of(type);
  if (!resumed) {
    ledger_.charge(Event::kXenDevalidateTables);
    ledger_.charge(Event::kXenDevalidateEntriesScanned, kEntriesPerTable);
  }
  if (level == 1) {
    for (uint64_t i = first_present_from(mem_, mfn, 0); i < kEntriesPerTable;
         i = first_present_from(mem_, mfn, i + 1)) {
      ledger_.charge(Event::kXenDevalidateEntriesPresent);
      put_page_from_l1e(Pte{mem_.read_entry(mfn, i)}, d);
    }
    return abi::err::kOk;
  }
  // nr_l4_pages counts validated L4s: one being devalidated leaves the count when it begins
  // (Xen: when it ends, and also for an L4 whose failed validation is torn down, which it
  // never counted).
  if (level == 4 && !resumed) --d.nr_l4_pages;
  const bool top_partial = frames_[mfn].partial_entry;
  const uint64_t end = frames_[mfn].nr_validated + (top_partial ? 1 : 0);  // one past the top
  const uint64_t top = end - 1;
  const bool checks = preemptible && (level == 2 || level == 3);
  bool first_check = true;  // Xen's check after the top index is still to come
  for (uint64_t n = last_present_below(mem_, mfn, end); n > 0;
       n = last_present_below(mem_, mfn, n - 1)) {
    const uint64_t i = n - 1;
    if (level == 4 && !is_guest_l4_slot(i)) continue;
    if (checks && first_check && i < top && hypercall_preempt_check()) {
      return preempted_at(mfn, top);
    }
    first_check = false;
    const bool again = top_partial && i == top;  // counted when it was first handled
    if (!again) ledger_.charge(Event::kXenDevalidateEntriesPresent);
    const int64_t rc =
        put_page_from_upper(Pte{mem_.read_entry(mfn, i)}, mfn, level, d, preemptible, again);
    if (rc == abi::err::kERESTART) {
      PageInfo& pg = frames_[mfn];
      pg.nr_validated = static_cast<uint16_t>(i);
      pg.partial_entry = true;
      return rc;
    }
    if (checks && i > 0 && hypercall_preempt_check()) return preempted_at(mfn, i);
  }
  if (checks && first_check && end > 1 && hypercall_preempt_check()) return preempted_at(mfn, top);
  return abi::err::kOk;
}

}  // namespace pib::xen
