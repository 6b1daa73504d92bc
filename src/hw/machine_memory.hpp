// SPDX-License-Identifier: MIT
// Machine memory: N frames of 4 KiB holding real bytes. Storage is sparse: a frame that was never
// written (or was zeroed) costs no host memory and reads as zeros, and the directory of frames is
// two-level, so untouched stretches of memory cost no per-frame pointer either. Knows nothing of
// owners, types or hypervisors; callers are the hardware walker, the IOMMU and the hypervisor
// (which, like Xen, has a direct map of all machine memory).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/dirty_frames.hpp"
#include "common/types.hpp"
#include "sim/ledger.hpp"

namespace pib::hw {

class MachineMemory {
 public:
  MachineMemory(uint64_t frame_count, sim::Ledger& ledger);
  // A copy of `source`'s contents whose charges go to `ledger` (a machine restored from a
  // snapshot); the copy shares no storage with it.
  MachineMemory(const MachineMemory& source, sim::Ledger& ledger);
  MachineMemory(const MachineMemory&) = delete;
  MachineMemory& operator=(const MachineMemory&) = delete;
  // Holds `source`'s contents again (same frame count, else ModelBug), reusing this memory's
  // storage: restoring a snapshot into a machine costs the copying, not an allocation per
  // frame. Frames it writes are recorded in the attached write log, as any write is.
  void restore(const MachineMemory& source);

  uint64_t frame_count() const { return frame_count_; }
  bool is_valid(Mfn mfn) const { return mfn.value < frame_count_; }

  // 8-byte accesses; the address must be 8-byte aligned and inside memory (else ModelBug).
  // Inline: every simulated load ends here.
  uint64_t read_u64(Maddr ma) const {
    check(ma);
    const FrameWords* f = frame(mfn_of(ma));
    return f != nullptr ? (*f)[page_offset(ma.value) / 8] : 0;
  }
  // Inline: every simulated store ends here; only a frame's first non-zero word goes out of line.
  void write_u64(Maddr ma, uint64_t value) {
    check(ma);
    if (write_log_ != nullptr) [[unlikely]]
      write_log_->mark(mfn_of(ma).value);
    FrameWords* f = frame(mfn_of(ma));
    if (f == nullptr) [[unlikely]] {
      if (value == 0) return;  // writing zero into an unbacked frame
      f = &backing(mfn_of(ma));
    }
    (*f)[page_offset(ma.value) / 8] = value;
  }
  // Atomic compare-exchange; returns the value found (== expected on success).
  uint64_t cmpxchg_u64(Maddr ma, uint64_t expected, uint64_t desired);

  // Entry `index` (0..511) of the frame seen as a table of 64-bit words.
  uint64_t read_entry(Mfn mfn, uint64_t index) const { return read_u64(maddr_of(mfn, index * 8)); }
  void write_entry(Mfn mfn, uint64_t index, uint64_t value) {
    write_u64(maddr_of(mfn, index * 8), value);
  }

  void zero_frame(Mfn mfn);           // charges hw.mem.zero_page
  void copy_frame(Mfn dst, Mfn src);  // charges hw.mem.copy_page
  bool frame_is_zero(Mfn mfn) const;
  // The frame's 512 words for reading, or nullptr while it reads as all zeros (unbacked). Valid
  // until the frame is next written, zeroed or copied into.
  const uint64_t* frame_words(Mfn mfn) const {
    if (!is_valid(mfn)) [[unlikely]]
      bad_access(maddr_of(mfn, 0));
    const FrameWords* f = frame(mfn);
    return f != nullptr ? f->data() : nullptr;
  }

  // Records every frame written, zeroed or copied into from now on (nullptr: stop). A copy of
  // the memory starts with none.
  void set_write_log(DirtyFrames* log) { write_log_ = log; }

  // Frames currently backed by host memory (for the simulator's own memory accounting).
  uint64_t backed_frames() const { return backed_; }
  // Host bytes of frame contents and directory.
  uint64_t host_bytes() const;

 private:
  using FrameWords = std::array<uint64_t, kEntriesPerTable>;
  static constexpr unsigned kGroupShift = 9;  // frames per directory group: 2 MiB of memory
  using Group = std::array<std::unique_ptr<FrameWords>, uint64_t{1} << kGroupShift>;
  FrameWords& backing(Mfn mfn);
  FrameWords* frame(Mfn mfn) const {
    const auto& group = groups_[mfn.value >> kGroupShift];
    return group ? (*group)[mfn.value & ((uint64_t{1} << kGroupShift) - 1)].get() : nullptr;
  }
  std::unique_ptr<FrameWords>& slot(Mfn mfn);  // creates the group
  void release(Mfn mfn);
  void check(Maddr ma) const {
    if ((ma.value & 7) != 0 || !is_valid(mfn_of(ma))) [[unlikely]]
      bad_access(ma);
  }
  [[noreturn, gnu::noinline]] static void bad_access(Maddr ma);

  uint64_t frame_count_;
  std::vector<std::unique_ptr<Group>> groups_;
  uint64_t backed_ = 0;
  uint64_t groups_used_ = 0;
  // Storage of frames released lately, reused before allocating: a run that frees and allocates
  // frames at the same rate (page tables of a fork and its exit) then costs the host no
  // allocation or page faults. Bounded, and counted in host_bytes().
  static constexpr std::size_t kSpareFrames = 256;
  std::vector<std::unique_ptr<FrameWords>> spare_;
  sim::Ledger& ledger_;
  DirtyFrames* write_log_ = nullptr;
};

}  // namespace pib::hw
