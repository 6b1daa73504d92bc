// SPDX-License-Identifier: MIT
// General references and typed references: get_page/put_page and _get_page_type/_put_page_type
// of xen/arch/x86/mm.c, including sticky types, validation on the 0->1 acquisition, devalidation
// on 1->0, PGT_partial (a preemptible (de)validation stopped part-way, taken over by the next
// acquisition or finished by the next put), and the type-change TLB shoot-down filtered by the
// TLB clock.
#include "common/error.hpp"
#include "xen/hypervisor.hpp"

namespace pib::xen {

using sim::Event;

bool Hypervisor::get_page(Mfn mfn, const Domain& d) {
  if (!frames_.valid(mfn)) return false;
  PageInfo& pg = frames_[mfn];
  // Xen takes a reference on any frame of the domain's that is still referenced: one given back
  // (no allocation reference) but still mapped or pinned can be mapped again.
  if (pg.owner != d.id || pg.count == 0) return false;
  ++pg.count;
  return true;
}

void Hypervisor::put_page(Mfn mfn) {
  PageInfo& pg = frames_[mfn];
  if (pg.count == 0) model_bug("put_page on a frame with no references");
  --pg.count;
  if (pg.count == 0) {
    // Last reference gone (the allocation reference was dropped earlier): the frame is free.
    if (pg.dma_revoked) validation_->before_free(*this, mfn);
    // A frame that could not leave its owner's IOMMU is not freed: Xen leaks it ("Leaking
    // mfn"), owned, unreferenced and still DMA-reachable by that domain's devices alone.
    if (cleanup_page_mappings(mfn) != abi::err::kOk) return;
    PageInfo freed;  // pool state included: a free frame is in no pool
    const DomId owner = frames_[mfn].owner;
    if (owner < domains_.size() && !domains_[owner]->dying) {
      // Freed while its domain runs (given back): it leaves the domain's pages now (tot_pages),
      // and a CPU may still cache a translation of it, so it is stamped with the TLB clock for
      // the flush before it is handed out again. (Teardown flushes the domain's CPUs first.)
      domains_[owner]->pages.erase(mfn);
      freed.tlbflush_timestamp = tlbflush_clock_;
      freed_while_running_ = true;
    }
    frames_[mfn] = freed;
    m2p_.set(mfn.value, kInvalidPfn.value);
    free_frames_.push(mfn);
    interleave(Step::kFrameFreed, mfn);
  }
}

int64_t Hypervisor::cleanup_page_mappings(Mfn mfn) {
  // cleanup_page_mappings (mm.c, XSA-288 and later): a frame still typed writable may still be
  // in its PV owner's IOMMU; it leaves it before it goes back to the heap. Paper-era Xen
  // removed frames from the IOMMU at decrease_reservation instead, whatever their type.
  const PageInfo& pg = frames_[mfn];
  if (!xsa288_fixed(params_) || pg.type != PageType::kWritable) return abi::err::kOk;
  if (pg.owner >= domains_.size()) return abi::err::kOk;
  Domain& d = *domains_[pg.owner];
  return d.need_iommu_sync() ? iommu_unmap(d, mfn) : abi::err::kOk;
}

bool Hypervisor::relinquish_page(Domain& d, Mfn mfn) {
  if (!frames_.valid(mfn)) return false;
  PageInfo& pg = frames_[mfn];
  if (pg.owner != d.id || !pg.allocated) return false;
  pg.allocated = false;
  put_page(mfn);
  return true;
}

int64_t Hypervisor::change_type(Mfn mfn, PageType from, PageType to, Domain& d) {
  PageInfo& pg = frames_[mfn];
  // Before a frame may change its use, no CPU may still cache a translation made under the old
  // use. CPUs that flushed since the frame's last use (TLB clock) are spared.
  const uint64_t mask = filter_by_timestamp(d.dirty_cpumask, pg.tlbflush_timestamp);
  if (mask != 0) {
    ledger_.charge(Event::kXenTlbFlushTypeChange);
    flush_mask(mask);
  }
  if (is_pt_type(to)) {
    ledger_.charge(Event::kXenTypeChangeToPt);
  } else if (to == PageType::kWritable) {
    ledger_.charge(Event::kXenTypeChangeToWritable);
  } else {
    ledger_.charge(Event::kXenTypeChangeOther);
  }
  // IOMMU synchronisation (A3), in the same path as validation and never batched: modern Xen
  // (4.14+) acts when writability flips, paper-era Xen (4.4-4.11) on any change from or to
  // the writable type.
  // A validation policy that validates DMA separately (PiBooster) may exempt the frame.
  if (d.need_iommu_sync() && from != to && validation_->type_change_syncs_iommu(pg)) {
    const bool from_w = from == PageType::kWritable;
    const bool to_w = to == PageType::kWritable;
    int64_t rc = abi::err::kOk;
    if (from_w && !to_w) {
      rc = iommu_unmap(d, mfn);
    } else if (to_w && (!from_w)) {
      rc = iommu_map(d, mfn, true);
    }
    if (rc != abi::err::kOk) {
      if (params_.generation == XenGeneration::kModern) return rc;  // type acquisition fails
      ledger_.charge(Event::kXenHcFailed);                          // reported, not acted on
    }
  }
  pg.type = to;
  pg.validated = false;
  if (to == PageType::kWritable) pg.ever_writable = true;
  interleave(Step::kTypeChange, mfn);
  return abi::err::kOk;
}

int64_t Hypervisor::get_page_type(Mfn mfn, PageType type, Domain& d, bool preemptible) {
  if (is_pt_type(type) && frames_[mfn].type_count == 0 && frames_[mfn].dma_revoked) {
    validation_->before_page_table_use(*this, mfn, d);  // may complete an invalidation
  }
  PageInfo& pg = frames_[mfn];
  bool resumed = false;
  if (pg.type_count > 0) {
    if (pg.type != type) return abi::err::kEINVAL;  // "Bad type": in use with another type
    if (pg.validated) {
      ++pg.type_count;
      return abi::err::kOk;
    }
    // Count > 0 but not validated: either a validation of this very frame is still on the stack
    // (a table reaching itself through its children), which Xen would spin on or fail; or the
    // frame is PGT_partial, and this acquisition takes the (de)validation over from where it
    // stopped: the partial state's type count becomes this acquisition's.
    if (!pg.partial) return abi::err::kEINVAL;
    pg.partial = false;
    resumed = true;
  } else {
    if (pg.type != type) {
      const int64_t rc = change_type(mfn, pg.type, type, d);
      if (rc != abi::err::kOk) return rc;
    }
    pg.type_count = 1;
    if (pg.validated) return abi::err::kOk;  // sticky type, still validated (non-PT types)
    if (!is_pt_type(type)) {
      pg.validated = true;
      return abi::err::kOk;
    }
    interleave(Step::kValidateBegin, mfn);
  }
  return finish_validation(mfn, validate_table(mfn, type, d, preemptible, resumed), resumed);
}

bool Hypervisor::is_old_guest_table(Mfn mfn) const {
  if (port_domain_ >= domains_.size()) return false;
  const Domain& d = *domains_[port_domain_];
  return current_vcpu_ < d.vcpus.size() && d.vcpus[current_vcpu_].old_guest_table == mfn;
}

// validate_page's outcomes. The frame is looked up again: the validation may have compacted
// the frame table.
int64_t Hypervisor::finish_validation(Mfn mfn, int64_t rc, bool resumed) {
  PageInfo& pg = frames_[mfn];
  if (rc == abi::err::kOk) {
    pg.validated = true;
    pg.nr_validated = 0;
    pg.partial_entry = false;
    interleave(Step::kValidateEnd, mfn);
    if (resumed) put_page(mfn);  // the partial state's general reference
    return rc;
  }
  if (rc == abi::err::kERESTART || is_old_guest_table(mfn)) {
    // Stopped part-way (preempted, or failed with its teardown deferred): the frame keeps its
    // type count as PGT_partial, which holds one more general reference (a resumed validation
    // still has the one it took over).
    pg.partial = true;
    if (!resumed) ++pg.count;
    return rc;
  }
  // Failed with nothing left to tear down: the frame loses its type (Xen clears type_info).
  pg.type_count = 0;
  pg.type = PageType::kNone;
  pg.validated = false;
  pg.linear_pt_count = 0;
  pg.nr_validated = 0;
  pg.partial_entry = false;
  if (resumed) put_page(mfn);
  return rc;
}

int64_t Hypervisor::put_page_type(Mfn mfn, Domain& d, bool preemptible, bool partial_set) {
  PageInfo& pg = frames_[mfn];
  // A partial state someone else has taken over (and completed) leaves nothing to drop here.
  if (partial_set && !pg.partial) return abi::err::kOk;
  if (pg.type_count == 0) model_bug("put_page_type on a frame with no type references");
  if (pg.type_count == 1 && is_pt_type(pg.type) && (pg.validated || pg.partial)) {
    // Last typed use of a table: drop what validation took (all of it, or what a partial
    // state still holds). The type itself stays (sticky).
    const bool resumed = pg.partial;
    if (!resumed) {
      pg.nr_validated = static_cast<uint16_t>(kEntriesPerTable);
      pg.partial_entry = false;
    }
    pg.validated = false;
    pg.partial = false;
    const int64_t rc = devalidate_table(mfn, pg.type, d, preemptible, resumed);
    PageInfo& p = frames_[mfn];
    if (rc == abi::err::kERESTART) {
      p.partial = true;  // the state keeps the type count and a general reference
      if (!resumed) ++p.count;
      return rc;
    }
    p.nr_validated = 0;
    p.partial_entry = false;
    p.type_count = 0;
    p.tlbflush_timestamp = tlbflush_clock_;
    if (resumed) put_page(mfn);
    return abi::err::kOk;
  }
  --pg.type_count;
  if (pg.type_count == 0) pg.tlbflush_timestamp = tlbflush_clock_;
  return abi::err::kOk;
}

int64_t Hypervisor::get_page_and_type(Mfn mfn, Domain& d, PageType type, bool preemptible,
                                      bool partial_set, bool retain_on_restart) {
  if (!partial_set && !get_page(mfn, d)) return abi::err::kEINVAL;
  const int64_t rc = get_page_type(mfn, type, d, preemptible);
  if (rc == abi::err::kOk || partial_set) return rc;
  if (is_old_guest_table(mfn) || (retain_on_restart && rc == abi::err::kERESTART)) return rc;
  put_page(mfn);
  return rc;
}

void Hypervisor::put_page_and_type(Mfn mfn, Domain& d) {
  put_page_type(mfn, d);
  put_page(mfn);
}

int64_t Hypervisor::put_page_and_type_preemptible(Mfn mfn, Domain& d) {
  const int64_t rc = put_page_type(mfn, d, true);
  if (rc == abi::err::kOk) put_page(mfn);
  return rc;
}

}  // namespace pib::xen
