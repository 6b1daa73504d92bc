// SPDX-License-Identifier: MIT
#include "hw/machine_memory.hpp"

#include <algorithm>
#include <string>

#include "common/error.hpp"

namespace pib::hw {

MachineMemory::MachineMemory(uint64_t frame_count, sim::Ledger& ledger)
    : frames_(frame_count), ledger_(ledger) {}

void MachineMemory::check(Maddr ma) const {
  if ((ma.value & 7) != 0)
    model_bug("unaligned 8-byte machine access at " + std::to_string(ma.value));
  if (!is_valid(mfn_of(ma)))
    model_bug("machine access outside memory at " + std::to_string(ma.value));
}

MachineMemory::FrameWords& MachineMemory::backing(Mfn mfn) {
  auto& slot = frames_[mfn.value];
  if (!slot) {
    slot = std::make_unique<FrameWords>();
    slot->fill(0);
    ++backed_;
  }
  return *slot;
}

uint64_t MachineMemory::read_u64(Maddr ma) const {
  check(ma);
  const auto& slot = frames_[mfn_of(ma).value];
  return slot ? (*slot)[page_offset(ma.value) / 8] : 0;
}

void MachineMemory::write_u64(Maddr ma, uint64_t value) {
  check(ma);
  const Mfn mfn = mfn_of(ma);
  if (value == 0 && !frames_[mfn.value]) return;  // writing zero into an unbacked frame
  backing(mfn)[page_offset(ma.value) / 8] = value;
}

uint64_t MachineMemory::cmpxchg_u64(Maddr ma, uint64_t expected, uint64_t desired) {
  const uint64_t found = read_u64(ma);
  if (found == expected) write_u64(ma, desired);
  return found;
}

void MachineMemory::zero_frame(Mfn mfn) {
  if (!is_valid(mfn)) model_bug("zero_frame outside memory");
  ledger_.charge(sim::Event::kHwMemZeroPage);
  if (frames_[mfn.value]) {
    frames_[mfn.value].reset();
    --backed_;
  }
}

void MachineMemory::copy_frame(Mfn dst, Mfn src) {
  if (!is_valid(dst) || !is_valid(src)) model_bug("copy_frame outside memory");
  ledger_.charge(sim::Event::kHwMemCopyPage);
  if (dst == src) return;
  if (!frames_[src.value]) {
    if (frames_[dst.value]) {
      frames_[dst.value].reset();
      --backed_;
    }
    return;
  }
  backing(dst) = *frames_[src.value];
}

bool MachineMemory::frame_is_zero(Mfn mfn) const {
  const auto& slot = frames_[mfn.value];
  return !slot || std::all_of(slot->begin(), slot->end(), [](uint64_t w) { return w == 0; });
}

}  // namespace pib::hw
