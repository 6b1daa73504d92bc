// SPDX-License-Identifier: MIT
// The guest's physical memory: one descriptor per guest frame (Linux's struct page, reduced to
// what the memory-management paths read) and a buddy allocator over the frames the boot code did
// not use. Free blocks are kept on per-order LIFO lists, as Linux's free areas are, so a page
// freed now is the first one handed out again.
#pragma once

#include <cstdint>
#include <vector>

#include "common/types.hpp"
#include "sim/ledger.hpp"

namespace pib::guest {

// Which page-table level a page currently serves (0 = not a page table).
enum class PtLevel : uint8_t { kNone = 0, kPte = 1, kPmd = 2, kPud = 3, kPgd = 4 };

struct Page {
  uint32_t refcount = 0;    // 0 = free (owned by the allocator)
  uint32_t mapcount = 0;    // user PTEs mapping this page
  bool pinned = false;      // PG_pinned: Xen has it as a validated, read-only page table
  bool dma_pooled = false;  // PiBooster: in the hypervisor's page-table pool (revoked from DMA)
  bool anon = false;        // anonymous (not page cache)
  bool page_cache = false;
  PtLevel pt_level = PtLevel::kNone;
  Pfn user_pgd = kInvalidPfn;  // for a kernel pgd page: its user pgd (page->private)
  // allocator bookkeeping
  bool free_head = false;
  uint8_t order = 0;
  uint64_t next = kNone;
  uint64_t prev = kNone;
  static constexpr uint64_t kNone = ~uint64_t{0};
};

class PageAllocator {
 public:
  static constexpr unsigned kMaxOrder = 10;  // blocks of up to 4 MiB, as Linux's MAX_ORDER

  PageAllocator(uint64_t nr_pages, sim::Ledger& ledger);
  // Hands the frames [first, end) to the allocator (boot: everything the builder left free).
  void add_free_range(Pfn first, Pfn end);

  // Returns the first pfn of a 2^order block with refcount 1, or kInvalidPfn when out of memory.
  Pfn alloc(unsigned order = 0);
  void free(Pfn first, unsigned order = 0);
  // Drops one reference; frees the page when it was the last.
  void put(Pfn pfn);
  void get(Pfn pfn) { page(pfn).refcount++; }

  Page& page(Pfn pfn);
  const Page& page(Pfn pfn) const;
  uint64_t nr_pages() const { return pages_.size(); }
  uint64_t free_pages() const { return free_pages_; }
  uint64_t free_blocks(unsigned order) const { return counts_[order]; }

 private:
  void push(uint64_t pfn, unsigned order);
  void remove(uint64_t pfn, unsigned order);

  std::vector<Page> pages_;
  std::vector<uint64_t> heads_;  // per order
  std::vector<uint64_t> counts_;
  uint64_t free_pages_ = 0;
  sim::Ledger& ledger_;
};

}  // namespace pib::guest
