// SPDX-License-Identifier: MIT
// mmap, munmap, brk and mprotect: VMA bookkeeping (top-down placement below the mmap base,
// splitting at boundaries) and the page-table work of unmap_region and change_protection.
#include <string>

#include "common/error.hpp"
#include "guest/kernel.hpp"
#include "guest/pgtable.hpp"

namespace pib::guest {

namespace {
constexpr uint64_t page_align_up(uint64_t v) {
  return (v + kPageSize - 1) & ~(kPageSize - 1);
}
std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}
}  // namespace

uint64_t Kernel::get_unmapped_area(const Mm& mm, uint64_t length) const {
  // Top-down: the highest gap below mmap_base that fits.
  uint64_t top = mm.mmap_base;
  for (auto it = mm.vmas.rbegin(); it != mm.vmas.rend(); ++it) {
    const Vma& v = it->second;
    if (v.start >= top) continue;
    if (v.end <= top && top - v.end >= length) return top - length;
    top = std::min(top, v.start);
  }
  if (top < length + 0x10000)
    throw InputError("mmap: no room for " + std::to_string(length) + " bytes");
  return top - length;
}

bool Kernel::range_is_free(const Mm& mm, uint64_t start, uint64_t end) {
  auto next = mm.vmas.lower_bound(start);
  if (next != mm.vmas.end() && next->second.start < end) return false;
  return next == mm.vmas.begin() || std::prev(next)->second.end <= start;
}

void Kernel::insert_vma(Mm& mm, Vma vma) {
  if (vma.start >= vma.end || vma.end > kTaskSize || page_offset(vma.start) ||
      page_offset(vma.end)) {
    throw InputError("bad mapping [" + hex(vma.start) + ", " + hex(vma.end) + ")");
  }
  auto next = mm.vmas.lower_bound(vma.start);
  if (next != mm.vmas.end() && next->second.start < vma.end) {
    throw InputError("mapping at " + hex(vma.start) + " overlaps " + next->second.name);
  }
  if (next != mm.vmas.begin() && std::prev(next)->second.end > vma.start) {
    throw InputError("mapping at " + hex(vma.start) + " overlaps " + std::prev(next)->second.name);
  }
  mm.vmas.emplace(vma.start, std::move(vma));
}

void Kernel::split_vma(Mm& mm, uint64_t addr) {
  Vma* v = mm.find_vma(addr);
  if (v == nullptr || v->start == addr) return;
  Vma upper = *v;
  upper.pgoff += (addr - v->start) >> kPageShift;
  upper.start = addr;
  v->end = addr;
  mm.vmas.emplace(addr, std::move(upper));
}

std::vector<Vma> Kernel::detach_vmas(Mm& mm, uint64_t start, uint64_t end) {
  split_vma(mm, start);
  split_vma(mm, end);
  std::vector<Vma> out;
  for (auto it = mm.vmas.lower_bound(start); it != mm.vmas.end() && it->first < end;) {
    out.push_back(it->second);
    it = mm.vmas.erase(it);
  }
  return out;
}

void Kernel::unmap_region(Mm& mm, const std::vector<Vma>& detached, Vaddr floor, Vaddr ceiling) {
  PageTables pt(core_);
  Gather tlb;
  tlb.mm = &mm;
  std::vector<VaRange> ranges;
  for (const Vma& v : detached) {
    const VaRange r = v.range();
    pt.zap_range(tlb, mm, r.first, r.second);
    ranges.push_back(r);
  }
  pt.free_pgtables(tlb, mm, ranges, floor, ceiling);
  pt.finish(tlb);
}

uint64_t Kernel::mmap(Pid pid, const MapRequest& req) {
  Task& t = task_mut(pid);
  enter(t);
  const uint64_t length = page_align_up(req.length);
  if (length == 0) throw InputError("mmap: zero length");
  Mm& mm = *t.mm;
  uint64_t addr = 0;
  if (req.fixed_address) {
    addr = *req.fixed_address;
    if (page_offset(addr) != 0) throw InputError("mmap: unaligned fixed address " + hex(addr));
    if (addr + length > kTaskSize || addr + length < addr) {
      throw InputError("mmap: fixed range beyond the user address space");
    }
    munmap(pid, addr, length);  // MAP_FIXED replaces what was there
  } else {
    addr = get_unmapped_area(mm, length);
  }
  Vma v;
  v.start = addr;
  v.end = addr + length;
  v.prot = req.prot;
  v.shared = req.shared;
  v.name =
      req.name.empty() ? (req.file ? cache_.name(*req.file) : std::string("[anon]")) : req.name;
  if (req.file) {
    if (req.file_page + (length >> kPageShift) > cache_.size(*req.file)) {
      throw InputError("mmap: mapping extends beyond the end of " + cache_.name(*req.file));
    }
    v.kind = VmaKind::kFile;
    v.file = *req.file;
    v.pgoff = req.file_page;
  } else if (req.shared) {
    // Shared anonymous memory is a shmem file of its own.
    v.kind = VmaKind::kFile;
    v.file = cache_.file("[shmem:" + std::to_string(mm.id) + ":" + hex(addr) + "]",
                         length >> kPageShift);
  }
  insert_vma(mm, std::move(v));
  return addr;
}

void Kernel::munmap(Pid pid, uint64_t addr, uint64_t length) {
  Task& t = task_mut(pid);
  enter(t);
  if (page_offset(addr) != 0) throw InputError("munmap: unaligned address " + hex(addr));
  const uint64_t end = addr + page_align_up(length);
  if (end <= addr || end > kTaskSize) throw InputError("munmap: bad range at " + hex(addr));
  Mm& mm = *t.mm;
  std::vector<Vma> detached = detach_vmas(mm, addr, end);
  if (detached.empty()) return;
  // Page tables may be freed up to the neighbouring mappings (0: no neighbour on that side).
  auto next = mm.vmas.lower_bound(end);
  const Vaddr ceiling{next != mm.vmas.end() ? next->second.start : 0};
  const Vaddr floor{next != mm.vmas.begin() && std::prev(next)->second.end <= addr
                        ? std::prev(next)->second.end
                        : 0};
  unmap_region(mm, detached, floor, ceiling);
}

uint64_t Kernel::brk(Pid pid, uint64_t new_brk) {
  Task& t = task_mut(pid);
  enter(t);
  Mm& mm = *t.mm;
  if (new_brk == 0 || new_brk < mm.brk_start) return mm.brk;
  const uint64_t old_end = page_align_up(mm.brk);
  const uint64_t new_end = page_align_up(new_brk);
  if (new_end > old_end) {
    Vma* heap = old_end > mm.brk_start ? mm.find_vma(old_end - 1) : nullptr;
    auto next = mm.vmas.lower_bound(old_end);
    if (next != mm.vmas.end() && next->second.start < new_end) return mm.brk;  // no room
    if (heap != nullptr && heap->kind == VmaKind::kHeap) {
      heap->end = new_end;
    } else {
      Vma v;
      v.start = old_end;
      v.end = new_end;
      v.prot = prot::kRead | prot::kWrite;
      v.kind = VmaKind::kHeap;
      v.name = "[heap]";
      insert_vma(mm, v);
    }
  } else if (new_end < old_end) {
    munmap(pid, new_end, old_end - new_end);
  }
  mm.brk = new_brk;
  return mm.brk;
}

void Kernel::mprotect(Pid pid, uint64_t addr, uint64_t length, uint32_t new_prot) {
  Task& t = task_mut(pid);
  enter(t);
  if (page_offset(addr) != 0) throw InputError("mprotect: unaligned address " + hex(addr));
  const uint64_t end = addr + page_align_up(length);
  Mm& mm = *t.mm;
  for (uint64_t a = addr; a < end; a += kPageSize) {
    if (mm.find_vma(a) == nullptr) throw InputError("mprotect: " + hex(a) + " is not mapped");
  }
  split_vma(mm, addr);
  split_vma(mm, end);
  bool changed = false;
  for (auto it = mm.vmas.lower_bound(addr); it != mm.vmas.end() && it->first < end; ++it) {
    Vma& v = it->second;
    if (v.prot == new_prot) continue;  // mprotect_fixup: nothing to do for unchanged flags
    v.prot = new_prot;
    changed |= change_protection(mm, v);
  }
  if (changed) PageTables(core_).flush_tlb_mm_range(mm, Vaddr{addr}, Vaddr{end});
}

bool Kernel::change_protection(Mm& mm, const Vma& v) {
  PageTables pt(core_);
  bool changed = false;
  const auto [v_start, v_end] = v.range();
  for (Vaddr a2 = v_start; a2 < v_end;) {
    const Vaddr n2 = std::min(align_down(a2, kPmdSize) + kPmdSize, v_end);
    const auto first = pt.lookup(mm, a2);
    if (first) {
      core_.ops().enter_lazy_mmu();
      for (Vaddr va = a2; va < n2; va += kPageSize) {
        const EntryRef e{first->table, table_index(va, 1)};
        const hw::Pte old = core_.read_entry(e);
        if (!old.present()) continue;
        const Pfn page = core_.ops().entry_pfn(old);
        const Page& pg = core_.pages().page(page);
        // Writable only where no copy-on-write is pending: shared mappings, or an exclusive
        // anonymous page that is already dirty.
        const bool dirty = old.has(ptflags::kDirty);
        const bool writable = v.writable() && (v.shared || (pg.anon && pg.refcount == 1 && dirty));
        const hw::Pte val{(old.raw() & ptflags::kAddrMask) | user_pte_flags(v, writable, dirty)};
        // Linux commits every present PTE, changed or not.
        core_.ops().ptep_modify_prot(e, val);
        changed |= val != old;
      }
      core_.ops().leave_lazy_mmu();
    }
    a2 = n2;
  }
  return changed;
}

}  // namespace pib::guest
