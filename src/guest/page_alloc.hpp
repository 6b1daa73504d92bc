// SPDX-License-Identifier: MIT
// The guest's physical memory: one descriptor per guest frame (Linux's struct page, reduced to
// what the memory-management paths read) and a buddy allocator over the frames the boot code did
// not use. Free blocks are kept on per-order LIFO lists, as Linux's free areas are, so a page
// freed now is the first one handed out again.
//
// Host memory follows the pages in use, not the guest's size: descriptors are stored sparsely
// (common/chunked_table.hpp; free pages all share one state), and the free lists' links live in
// a map keyed by the first page of each free block, not in the descriptors.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "common/chunked_table.hpp"
#include "common/types.hpp"
#include "sim/ledger.hpp"

namespace pib::guest {

// Which page-table level a page currently serves (0 = not a page table).
enum class PtLevel : uint8_t { kNone = 0, kPte = 1, kPmd = 2, kPud = 3, kPgd = 4 };

struct Page {
  uint32_t refcount = 0;     // 0 = free (owned by the allocator)
  uint32_t mapcount = 0;     // user PTEs mapping this page
  bool pinned = false;       // PG_pinned: Xen has it as a validated, read-only page table
  bool save_pinned = false;  // PG_savepinned: a root pinned only for a save (xen_mm_pin_all)
  bool dma_pooled = false;   // PiBooster: in the hypervisor's page-table pool (revoked from DMA)
  // Its page-table source keeps it pinned and read-only between uses (XenoLinux-style caches of
  // validated tables): the pv hooks leave its type alone and entries change only through Xen.
  bool kept_pinned = false;
  bool anon = false;  // anonymous (not page cache)
  bool page_cache = false;
  PtLevel pt_level = PtLevel::kNone;
  Pfn user_pgd = kInvalidPfn;  // for a kernel pgd page: its user pgd (page->private)

  bool operator==(const Page&) const = default;
};

// The zone watermarks Linux derives from the memory size (mm/page_alloc.c, 6.1:
// calculate_min_free_kbytes and __setup_per_zone_wmarks with the default
// watermark_scale_factor of 10): below `low` kswapd is woken and reclaims until `high`.
struct Watermarks {
  uint64_t min = 0;
  uint64_t low = 0;
  uint64_t high = 0;
  // For one zone of `managed_pages` pages (all of the guest's free memory at boot).
  static Watermarks linux_defaults(uint64_t managed_pages);
};

class PageAllocator {
 public:
  static constexpr unsigned kMaxOrder = 10;  // blocks of up to 4 MiB, as Linux's MAX_ORDER

  PageAllocator(uint64_t nr_pages, sim::Ledger& ledger);
  // Hands the frames [first, end) to the allocator (boot: everything the builder left free).
  // The same free lists, in the same order, as freeing each page in turn, but per block.
  void add_free_range(Pfn first, Pfn end);

  // Returns the first pfn of a 2^order block with refcount 1, or kInvalidPfn when out of memory.
  Pfn alloc(unsigned order = 0);
  void free(Pfn first, unsigned order = 0);
  // Drops one reference; frees the page when it was the last.
  void put(Pfn pfn);
  void get(Pfn pfn) { page(pfn).refcount++; }

  Page& page(Pfn pfn);  // materialises the descriptor's chunk
  const Page& page(Pfn pfn) const;
  uint64_t nr_pages() const { return pages_.size(); }
  uint64_t free_pages() const { return free_pages_; }
  uint64_t free_blocks(unsigned order) const { return counts_[order]; }
  // Host bytes of the descriptors and free lists (memory accounting, tests).
  uint64_t host_bytes() const;
  uint64_t dense_chunks() const { return pages_.dense_chunks(); }

 private:
  static constexpr uint64_t kNone = ~uint64_t{0};
  struct FreeBlock {  // a free block's place on its order's list
    uint8_t order = 0;
    uint64_t prev = kNone;
    uint64_t next = kNone;
  };
  void push(uint64_t pfn, unsigned order);
  void remove(uint64_t pfn, unsigned order);
  // Puts the free block at pfn on the lists, merged with its free buddies.
  void merge_and_push(uint64_t pfn, unsigned order);

  ChunkedTable<Page> pages_;
  std::unordered_map<uint64_t, FreeBlock> blocks_;  // free blocks by first pfn
  std::vector<uint64_t> heads_;                     // per order
  std::vector<uint64_t> counts_;
  uint64_t free_pages_ = 0;
  sim::Ledger& ledger_;
};

}  // namespace pib::guest
