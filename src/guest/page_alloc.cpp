// SPDX-License-Identifier: MIT
#include "guest/page_alloc.hpp"

#include <string>

#include "common/error.hpp"

namespace pib::guest {

PageAllocator::PageAllocator(uint64_t nr_pages, sim::Ledger& ledger)
    : pages_(nr_pages),
      heads_(kMaxOrder + 1, Page::kNone),
      counts_(kMaxOrder + 1, 0),
      ledger_(ledger) {
  // Every page starts owned by someone (the boot code); add_free_range releases them.
  for (Page& p : pages_) p.refcount = 1;
}

Page& PageAllocator::page(Pfn pfn) {
  if (pfn.value >= pages_.size()) model_bug("page descriptor for pfn " + std::to_string(pfn.value));
  return pages_[pfn.value];
}
const Page& PageAllocator::page(Pfn pfn) const {
  if (pfn.value >= pages_.size()) model_bug("page descriptor for pfn " + std::to_string(pfn.value));
  return pages_[pfn.value];
}

void PageAllocator::push(uint64_t pfn, unsigned order) {
  Page& p = pages_[pfn];
  p.free_head = true;
  p.order = static_cast<uint8_t>(order);
  p.prev = Page::kNone;
  p.next = heads_[order];
  if (heads_[order] != Page::kNone) pages_[heads_[order]].prev = pfn;
  heads_[order] = pfn;
  counts_[order]++;
}

void PageAllocator::remove(uint64_t pfn, unsigned order) {
  Page& p = pages_[pfn];
  if (p.prev != Page::kNone) {
    pages_[p.prev].next = p.next;
  } else {
    heads_[order] = p.next;
  }
  if (p.next != Page::kNone) pages_[p.next].prev = p.prev;
  p.free_head = false;
  p.next = p.prev = Page::kNone;
  counts_[order]--;
}

void PageAllocator::add_free_range(Pfn first, Pfn end) {
  for (uint64_t pfn = first.value; pfn < end.value; ++pfn) {
    if (pages_[pfn].refcount != 1) model_bug("boot range page already free");
    free(Pfn{pfn}, 0);
  }
}

Pfn PageAllocator::alloc(unsigned order) {
  unsigned o = order;
  while (o <= kMaxOrder && heads_[o] == Page::kNone) ++o;
  if (o > kMaxOrder) return kInvalidPfn;
  const uint64_t pfn = heads_[o];
  remove(pfn, o);
  while (o > order) {  // split, keeping the lower half
    --o;
    push(pfn + (uint64_t{1} << o), o);
  }
  const uint64_t n = uint64_t{1} << order;
  for (uint64_t i = 0; i < n; ++i) {
    Page& p = pages_[pfn + i];
    p = Page{};
    p.refcount = 1;
  }
  free_pages_ -= n;
  ledger_.charge(sim::Event::kGuestPageAlloc, n);
  return Pfn{pfn};
}

void PageAllocator::free(Pfn first, unsigned order) {
  uint64_t pfn = first.value;
  const uint64_t n = uint64_t{1} << order;
  for (uint64_t i = 0; i < n; ++i) {
    Page& p = page(Pfn{pfn + i});
    if (p.refcount == 0 || p.free_head) model_bug("double free of pfn " + std::to_string(pfn + i));
    if (p.pinned) model_bug("freeing pinned page-table page " + std::to_string(pfn + i));
    if (p.mapcount != 0) model_bug("freeing mapped page " + std::to_string(pfn + i));
    if (p.dma_pooled)
      model_bug("freeing a page still in the DMA-revoked pool " + std::to_string(pfn + i));
    p = Page{};
  }
  free_pages_ += n;
  ledger_.charge(sim::Event::kGuestPageFree, n);
  unsigned o = order;
  while (o < kMaxOrder) {
    const uint64_t buddy = pfn ^ (uint64_t{1} << o);
    if (buddy >= pages_.size()) break;
    const Page& b = pages_[buddy];
    if (!b.free_head || b.order != o || b.refcount != 0) break;
    remove(buddy, o);
    pfn = pfn < buddy ? pfn : buddy;
    ++o;
  }
  push(pfn, o);
}

void PageAllocator::put(Pfn pfn) {
  Page& p = page(pfn);
  if (p.refcount == 0) model_bug("put of free page " + std::to_string(pfn.value));
  if (--p.refcount == 0) {
    p.refcount = 1;  // free() expects a live page
    free(pfn, 0);
  }
}

}  // namespace pib::guest
