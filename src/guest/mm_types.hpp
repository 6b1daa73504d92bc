// SPDX-License-Identifier: MIT
// Address spaces: virtual memory areas and the mm that owns a page-table tree (Linux's
// vm_area_struct and mm_struct, reduced to what the page-table paths use).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "common/types.hpp"
#include "guest/page_alloc.hpp"

namespace pib::guest {

// 47-bit user address space (4-level paging).
inline constexpr uint64_t kTaskSize = 0x00007ffffffff000ULL;
inline constexpr uint64_t kPmdSize = uint64_t{1} << 21;
inline constexpr uint64_t kPudSize = uint64_t{1} << 30;
inline constexpr uint64_t kPgdirSize = uint64_t{1} << 39;
inline constexpr uint64_t kUserPgdSlots = 256;  // pgd slots below the kernel half

namespace prot {
inline constexpr uint32_t kRead = 1;
inline constexpr uint32_t kWrite = 2;
inline constexpr uint32_t kExec = 4;
}  // namespace prot

// Linux's fault_around_bytes default (64 KiB, since 3.15) in pages: how many cached file pages a
// read fault may map at once.
inline constexpr uint64_t kFaultAroundPages = 16;

// A range of virtual addresses [first, second).
using VaRange = std::pair<Vaddr, Vaddr>;

enum class VmaKind : uint8_t { kAnon, kFile, kHeap, kStack, kSpecial };

struct Vma {
  uint64_t start = 0;
  uint64_t end = 0;
  uint32_t prot = 0;
  bool shared = false;
  VmaKind kind = VmaKind::kAnon;
  uint32_t file = 0;      // page-cache file id (kFile)
  uint64_t pgoff = 0;     // file page of `start`
  bool anon_vma = false;  // has (had) anonymous pages: fork copies its page tables
  // The mapping's operations can map already-cached pages around a read fault (filemap's
  // map_pages); special mappings such as the vDSO cannot.
  bool map_pages = true;
  std::string name;  // for reports ("[heap]", "libc.so.6", ...)

  uint64_t pages() const { return (end - start) >> kPageShift; }
  VaRange range() const { return {Vaddr{start}, Vaddr{end}}; }
  bool writable() const { return (prot & prot::kWrite) != 0; }
  bool cow() const { return !shared && writable(); }
};

struct Mm {
  uint64_t id = 0;
  Pfn pgd = kInvalidPfn;
  Pfn user_pgd = kInvalidPfn;    // Xen PV: the user-mode root table (kInvalidPfn natively)
  std::map<uint64_t, Vma> vmas;  // by start address
  uint64_t brk_start = 0;
  uint64_t brk = 0;
  uint64_t mmap_base = 0;
  uint64_t stack_top = 0;
  uint64_t start_stack = 0;  // the initial stack pointer exec left (create_elf_tables)
  uint64_t rss = 0;          // present user pages
  std::array<uint64_t, 4>
      pt_pages{};        // page-table pages below the pgd, by level 1..3 (index 0 unused)
  uint32_t users = 1;    // mm_users
  uint64_t cpumask = 0;  // vCPUs that have this mm loaded (mm_cpumask)
  // While dup_mmap builds this mm: the mm it copies (for sources that shape tables by it).
  const Mm* copy_of = nullptr;

  const Vma* find_vma(uint64_t va) const {
    auto it = vmas.upper_bound(va);
    if (it == vmas.begin()) return nullptr;
    --it;
    return va < it->second.end ? &it->second : nullptr;
  }
  Vma* find_vma(uint64_t va) {
    return const_cast<Vma*>(static_cast<const Mm*>(this)->find_vma(va));
  }
  uint64_t pt_pages_below_pgd() const { return pt_pages[1] + pt_pages[2] + pt_pages[3]; }
};

}  // namespace pib::guest
