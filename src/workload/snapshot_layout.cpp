// SPDX-License-Identifier: MIT
#include "workload/snapshot_layout.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "common/types.hpp"
#include "guest/mm_types.hpp"

namespace pib::workload {

namespace {

using snapshot::MapEntry;

// Position-independent executables load at two thirds of the user space plus up to 1 TiB; the
// mmap area lies above that range, just below the stack.
constexpr uint64_t kPieLow = 0x555555554000ULL;
constexpr uint64_t kMmapAreaLow = 0x700000000000ULL;

enum class Class { kImage, kPie, kHeap, kStack, kSpecial, kMmap };

Class classify(const MapEntry& m) {
  if (m.name == "[stack]") return Class::kStack;
  if (m.name == "[heap]") return Class::kHeap;
  if (m.name == "[vvar]" || m.name == "[vdso]") return Class::kSpecial;
  if (m.start >= kMmapAreaLow) return Class::kMmap;
  if (m.start >= kPieLow) return Class::kPie;
  return Class::kImage;
}

bool overlaps_any(const std::vector<MapEntry>& placed, uint64_t start, uint64_t end) {
  for (const MapEntry& m : placed) {
    if (m.start < end && start < m.end) return true;
  }
  return false;
}

}  // namespace

uint64_t PlacedLayout::translate(uint64_t va) const {
  for (const Move& m : moves) {
    if (va >= m.start && va < m.end) return va + static_cast<uint64_t>(m.shift);
  }
  return va;
}

std::vector<MapEntry> merge_special_mappings(const std::vector<MapEntry>& in) {
  // Linux 6.1 maps the vvar area as one special mapping; newer kernels split the clock pages off
  // as [vvar_vclock]. The kernel, not the program, decides this: adjacent [vvar] and
  // [vvar_vclock] become one [vvar].
  std::vector<MapEntry> out;
  for (const auto& m : in) {
    if (m.name == "[vvar_vclock]" && !out.empty() && out.back().name == "[vvar]" &&
        out.back().end == m.start) {
      out.back().end = m.end;
      continue;
    }
    out.push_back(m);
  }
  return out;
}

PlacedLayout place_snapshot(const std::vector<MapEntry>& captured,
                            guest::AddressSpaceRandomizer& aslr, SnapshotPlacement placement) {
  PlacedLayout out;
  std::vector<MapEntry> maps;
  for (const MapEntry& m : merge_special_mappings(captured)) {
    if (m.start < guest::kTaskSize) maps.push_back(m);  // [vsyscall] is the kernel's
  }
  if (placement == SnapshotPlacement::kAsCaptured) {
    out.vmas = maps;
    return out;
  }
  // The draws in load_elf_binary's order: mmap base, stack top, PIE base, brk, vDSO.
  out.mmap_base = aslr.mmap_base();
  out.stack_top = aslr.stack_top();
  std::vector<int64_t> shift(maps.size(), 0);
  auto delta = [](uint64_t to, uint64_t from) { return static_cast<int64_t>(to - from); };
  uint64_t pie_start = ~uint64_t{0}, mmap_top = 0;
  for (const MapEntry& m : maps) {
    if (classify(m) == Class::kPie) pie_start = std::min(pie_start, m.start);
    if (classify(m) == Class::kMmap) mmap_top = std::max(mmap_top, m.end);
  }
  const int64_t pie_shift = pie_start != ~uint64_t{0} ? delta(aslr.pie_base(), pie_start) : 0;
  for (std::size_t i = 0; i < maps.size(); ++i) {
    switch (classify(maps[i])) {
      case Class::kStack:
        shift[i] = delta(out.stack_top, maps[i].end);
        break;
      case Class::kPie:
        shift[i] = pie_shift;
        break;
      case Class::kHeap: {
        // brk starts after the program image (the mapping below the heap), then is randomised.
        uint64_t image_end = 0;
        for (std::size_t j = 0; j < maps.size(); ++j) {
          const Class c = classify(maps[j]);
          if ((c == Class::kImage || c == Class::kPie) && maps[j].end <= maps[i].start)
            image_end = std::max(image_end, maps[j].end + static_cast<uint64_t>(shift[j]));
        }
        if (image_end == 0) throw InputError("snapshot: a [heap] with no program image below it");
        shift[i] = delta(aslr.brk_start(image_end), maps[i].start);
        break;
      }
      default:
        break;
    }
  }
  // The vvar+vDSO block: above the stack when the randomised hint is free, else at the top of
  // the mmap area (it is mapped at exec, before anything else there).
  uint64_t special_low = ~uint64_t{0}, special_high = 0;
  for (const MapEntry& m : maps) {
    if (classify(m) != Class::kSpecial) continue;
    special_low = std::min(special_low, m.start);
    special_high = std::max(special_high, m.end);
  }
  uint64_t mmap_ceiling = out.mmap_base;
  if (special_high != 0) {
    const uint64_t len = special_high - special_low;
    std::vector<MapEntry> fixed;
    for (std::size_t i = 0; i < maps.size(); ++i) {
      const Class c = classify(maps[i]);
      if (c == Class::kSpecial || c == Class::kMmap) continue;
      MapEntry p = maps[i];
      p.start += static_cast<uint64_t>(shift[i]);
      p.end += static_cast<uint64_t>(shift[i]);
      fixed.push_back(p);
    }
    const uint64_t start_stack = out.stack_top - kPageSize + 64;
    uint64_t at = 0;
    if (const auto hint = aslr.vdso_hint(start_stack, len)) {
      if (*hint + len <= guest::kTaskSize && !overlaps_any(fixed, *hint, *hint + len)) at = *hint;
    }
    if (at == 0) {
      at = mmap_ceiling - len;
      mmap_ceiling = at;
    }
    for (std::size_t i = 0; i < maps.size(); ++i) {
      if (classify(maps[i]) == Class::kSpecial) shift[i] = delta(at, special_low);
    }
  }
  // The mmap area keeps its internal layout; its top mapping ends where the area begins.
  for (std::size_t i = 0; i < maps.size(); ++i) {
    if (classify(maps[i]) == Class::kMmap) shift[i] = delta(mmap_ceiling, mmap_top);
  }
  for (std::size_t i = 0; i < maps.size(); ++i) {
    MapEntry p = maps[i];
    p.start += static_cast<uint64_t>(shift[i]);
    p.end += static_cast<uint64_t>(shift[i]);
    out.vmas.push_back(p);
    if (shift[i] != 0) out.moves.push_back({maps[i].start, maps[i].end, shift[i]});
  }
  std::sort(out.vmas.begin(), out.vmas.end(),
            [](const MapEntry& a, const MapEntry& b) { return a.start < b.start; });
  for (std::size_t i = 1; i < out.vmas.size(); ++i) {
    if (out.vmas[i].start < out.vmas[i - 1].end) {
      throw InputError("snapshot: placed mappings " + out.vmas[i - 1].name + " and " +
                       out.vmas[i].name + " overlap");
    }
  }
  return out;
}

}  // namespace pib::workload
