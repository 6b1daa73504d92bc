// SPDX-License-Identifier: MIT
#include "hw/machine_memory.hpp"

#include <algorithm>
#include <string>

#include "common/error.hpp"

namespace pib::hw {

MachineMemory::MachineMemory(uint64_t frame_count, sim::Ledger& ledger)
    : frame_count_(frame_count),
      groups_((frame_count + (uint64_t{1} << kGroupShift) - 1) >> kGroupShift),
      ledger_(ledger) {}

MachineMemory::MachineMemory(const MachineMemory& source, sim::Ledger& ledger)
    : frame_count_(source.frame_count_), groups_(source.groups_.size()), ledger_(ledger) {
  restore(source);
}

void MachineMemory::restore(const MachineMemory& source) {
  if (source.frame_count_ != frame_count_) model_bug("memory restore: different frame counts");
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const auto& from = source.groups_[g];
    auto& to = groups_[g];
    if (!from && !to) continue;
    const uint64_t first = uint64_t{g} << kGroupShift;
    const uint64_t end = std::min(first + (uint64_t{1} << kGroupShift), frame_count_);
    for (uint64_t f = first; f < end; ++f) {
      const FrameWords* words = from ? (*from)[f - first].get() : nullptr;
      if (words == nullptr && frame(Mfn{f}) == nullptr) continue;
      if (write_log_ != nullptr) write_log_->mark(f);
      if (words == nullptr) {
        release(Mfn{f});
      } else {
        backing(Mfn{f}) = *words;
      }
    }
    if (!from) {  // every frame of the group was released above
      to.reset();
      --groups_used_;
    }
  }
}

void MachineMemory::bad_access(Maddr ma) {
  if ((ma.value & 7) != 0)
    model_bug("unaligned 8-byte machine access at " + std::to_string(ma.value));
  model_bug("machine access outside memory at " + std::to_string(ma.value));
}

std::unique_ptr<MachineMemory::FrameWords>& MachineMemory::slot(Mfn mfn) {
  auto& group = groups_[mfn.value >> kGroupShift];
  if (!group) {
    group = std::make_unique<Group>();
    ++groups_used_;
  }
  return (*group)[mfn.value & ((uint64_t{1} << kGroupShift) - 1)];
}

MachineMemory::FrameWords& MachineMemory::backing(Mfn mfn) {
  auto& s = slot(mfn);
  if (!s) {
    if (spare_.empty()) {
      s = std::make_unique<FrameWords>();  // value-initialised: zeros
    } else {
      s = std::move(spare_.back());
      spare_.pop_back();
      s->fill(0);
    }
    ++backed_;
  }
  return *s;
}

void MachineMemory::release(Mfn mfn) {
  if (frame(mfn) == nullptr) return;
  auto& s = slot(mfn);
  if (spare_.size() < kSpareFrames) {
    spare_.push_back(std::move(s));
  } else {
    s.reset();
  }
  --backed_;
}

uint64_t MachineMemory::host_bytes() const {
  return groups_.capacity() * sizeof(groups_[0]) + groups_used_ * sizeof(Group) +
         (backed_ + spare_.size()) * sizeof(FrameWords);
}

uint64_t MachineMemory::cmpxchg_u64(Maddr ma, uint64_t expected, uint64_t desired) {
  const uint64_t found = read_u64(ma);
  if (found == expected) write_u64(ma, desired);
  return found;
}

void MachineMemory::zero_frame(Mfn mfn) {
  if (!is_valid(mfn)) model_bug("zero_frame outside memory");
  ledger_.charge(sim::Event::kHwMemZeroPage);
  if (write_log_ != nullptr) write_log_->mark(mfn.value);
  release(mfn);
}

void MachineMemory::copy_frame(Mfn dst, Mfn src) {
  if (!is_valid(dst) || !is_valid(src)) model_bug("copy_frame outside memory");
  ledger_.charge(sim::Event::kHwMemCopyPage);
  if (dst == src) return;
  if (write_log_ != nullptr) write_log_->mark(dst.value);
  const FrameWords* from = frame(src);
  if (from == nullptr) {
    release(dst);
    return;
  }
  backing(dst) = *from;  // frames live in their own allocations: creating dst's never moves src
}

bool MachineMemory::frame_is_zero(Mfn mfn) const {
  const FrameWords* f = frame(mfn);
  return f == nullptr || std::all_of(f->begin(), f->end(), [](uint64_t w) { return w == 0; });
}

}  // namespace pib::hw
