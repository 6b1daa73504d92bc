// SPDX-License-Identifier: MIT
// Xen's per-frame metadata (struct page_info): owner, general reference count, type, type count,
// validated/pinned/partial flags with the progress of a partial (de)validation, the TLB-clock stamp
// of the frame's last type use, and the linear page-table counter. Owned by the Hypervisor; read by
// the auditor and by tests.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "common/chunked_table.hpp"
#include "common/dirty_frames.hpp"
#include "common/types.hpp"

namespace pib::xen {

enum class PageType : uint8_t { kNone, kL1, kL2, kL3, kL4, kSegDesc, kWritable };

constexpr bool is_pt_type(PageType t) {
  return t == PageType::kL1 || t == PageType::kL2 || t == PageType::kL3 || t == PageType::kL4;
}
constexpr unsigned level_of(PageType t) {
  return is_pt_type(t) ? static_cast<unsigned>(t) : 0;  // kL1 == 1 ... kL4 == 4
}
constexpr PageType pt_type_of_level(unsigned level) {
  return static_cast<PageType>(level);
}
std::string_view type_name(PageType t);

inline constexpr DomId kNoOwner = 0xffff;
inline constexpr DomId kXenOwner = 0x7ff2;  // DOMID_XEN: Xen's own frames (I/O page tables)
inline constexpr DomId kOwnerXen = 0x7ff2;  // DOMID_XEN: Xen's own frames

struct PageInfo {
  DomId owner = kNoOwner;
  bool allocated = false;  // PGC_allocated: ownership holds one general ref
  uint32_t count = 0;      // general references
  PageType type = PageType::kNone;
  uint32_t type_count = 0;
  bool validated = false;
  bool pinned = false;
  uint64_t tlbflush_timestamp = 0;
  // > 0: this table holds that many linear entries; < 0: it is the target of that many.
  int32_t linear_pt_count = 0;
  // Model bookkeeping for the auditor (not Xen state): the frame has held the writable type.
  bool ever_writable = false;
  // Revoked from DMA independently of its type by the validation policy (a spare type_info
  // bit in a real Xen; PiBooster's page-table pool sets it). Xen's own policy never does.
  bool dma_revoked = false;
  // ... and its IOMMU entry is cleared but the IOTLB invalidation has not completed yet, so a
  // device may still reach it through a cached translation: it does not count as revoked.
  // Changed in the same step as the type and count above (one record, as in type_info).
  bool dma_revoke_pending = false;
  // PGT_partial: the validation or devalidation of this L2-L4 table stopped part-way (preempted,
  // or failed with its teardown deferred to old_guest_table). Entries [0, nr_validated) hold
  // their references; when `partial_entry` (PTF_partial_set in partial_flags), entry
  // nr_validated holds a general reference on a child left partial itself. The state owns the
  // type count of 1 and one extra general reference (get_page_light). Both fields are 0 outside
  // the state, so that frames in a shared state still compare equal (sparse storage).
  bool partial = false;
  bool partial_entry = false;
  uint16_t nr_validated = 0;  // nr_validated_ptes
  // Model bookkeeping for the auditor (not Xen state): general references Xen's own path left
  // behind with no holder (xen.ref_leaked), so the frame's count exceeds its references by
  // this many for good.
  uint16_t leaked_refs = 0;

  bool operator==(const PageInfo&) const = default;
};

// Stored sparsely (common/chunked_table.hpp): frames in a shared state, e.g. all the free
// frames or all the data frames the builder's direct map references once, cost nothing per
// frame. A mutable access materialises the frame's chunk; the hypervisor compacts at points
// where it holds no reference into the table.
class FrameTable {
 public:
  explicit FrameTable(uint64_t frames) : pages_(frames, PageInfo{}) {}
  // A copy (a restored hypervisor) has no write log of its own until one is attached.
  FrameTable(const FrameTable& other) : pages_(other.pages_) {}
  FrameTable& operator=(const FrameTable& other) {
    if (this == &other) return *this;
    pages_ = other.pages_;
    if (write_log_ != nullptr) write_log_->mark_range(0, pages_.size());  // every entry may differ
    return *this;
  }
  ~FrameTable() = default;

  // Every mutable access counts as a write (the caller may write through the reference).
  PageInfo& operator[](Mfn mfn) {
    if (!valid(mfn)) [[unlikely]]
      out_of_range();
    if (write_log_ != nullptr) [[unlikely]]
      write_log_->mark(mfn.value);
    return pages_.mut(mfn.value);
  }
  const PageInfo& operator[](Mfn mfn) const {
    if (!valid(mfn)) [[unlikely]]
      out_of_range();
    return pages_.get(mfn.value);
  }
  uint64_t size() const { return pages_.size(); }
  bool valid(Mfn mfn) const { return mfn.value < pages_.size(); }

  // Calls f(mfn, page_info) for `count` frames from `first` (walks, e.g. the auditor's).
  template <typename F>
  void for_each(Mfn first, uint64_t count, F f) const {
    if (count == 0) return;
    if (!valid(first) || count > size() - first.value) [[unlikely]]
      out_of_range();
    pages_.for_each(first.value, first.value + count,
                    [&](uint64_t i, const PageInfo& pg) { f(Mfn{i}, pg); });
  }
  void fill(Mfn first, uint64_t count, const PageInfo& value) {
    if (write_log_ != nullptr) write_log_->mark_range(first.value, count);
    pages_.fill_range(first.value, first.value + count, value);
  }
  void compact() { pages_.compact(); }
  uint64_t chunks_written_since_compact() const { return pages_.chunks_written_since_compact(); }
  uint64_t dense_chunks() const { return pages_.dense_chunks(); }
  uint64_t host_bytes() const { return pages_.host_bytes(); }
  // Records every frame whose entry may change from now on (nullptr: stop).
  void set_write_log(DirtyFrames* log) { write_log_ = log; }

 private:
  [[noreturn, gnu::noinline]] static void out_of_range() { throw std::out_of_range("frame table"); }
  ChunkedTable<PageInfo> pages_;
  DirtyFrames* write_log_ = nullptr;
};

}  // namespace pib::xen
