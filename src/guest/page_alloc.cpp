// SPDX-License-Identifier: MIT
#include "guest/page_alloc.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/error.hpp"

namespace pib::guest {

namespace {
// Every page starts owned by someone (the boot code); add_free_range releases them.
Page boot_owned() {
  Page p;
  p.refcount = 1;
  return p;
}
}  // namespace

PageAllocator::PageAllocator(uint64_t nr_pages, sim::Ledger& ledger)
    : pages_(nr_pages, boot_owned()),
      heads_(kMaxOrder + 1, kNone),
      counts_(kMaxOrder + 1, 0),
      ledger_(ledger) {}

Page& PageAllocator::page(Pfn pfn) {
  if (pfn.value >= pages_.size()) model_bug("page descriptor for pfn " + std::to_string(pfn.value));
  return pages_.mut(pfn.value);
}
const Page& PageAllocator::page(Pfn pfn) const {
  if (pfn.value >= pages_.size()) model_bug("page descriptor for pfn " + std::to_string(pfn.value));
  return pages_.get(pfn.value);
}

uint64_t PageAllocator::host_bytes() const {
  // An unordered_map node holds the pair and a next pointer; the buckets one pointer each.
  return pages_.host_bytes() +
         blocks_.size() * (sizeof(std::pair<const uint64_t, FreeBlock>) + sizeof(void*)) +
         blocks_.bucket_count() * sizeof(void*);
}

void PageAllocator::push(uint64_t pfn, unsigned order) {
  const uint64_t head = heads_[order];
  if (head != kNone) blocks_.at(head).prev = pfn;
  blocks_[pfn] = FreeBlock{static_cast<uint8_t>(order), kNone, head};
  heads_[order] = pfn;
  counts_[order]++;
}

void PageAllocator::remove(uint64_t pfn, unsigned order) {
  const auto it = blocks_.find(pfn);
  const FreeBlock b = it->second;
  blocks_.erase(it);
  if (b.prev != kNone) {
    blocks_.at(b.prev).next = b.next;
  } else {
    heads_[order] = b.next;
  }
  if (b.next != kNone) blocks_.at(b.next).prev = b.prev;
  counts_[order]--;
}

void PageAllocator::merge_and_push(uint64_t pfn, unsigned order) {
  unsigned o = order;
  while (o < kMaxOrder) {
    const uint64_t buddy = pfn ^ (uint64_t{1} << o);
    if (buddy >= pages_.size()) break;
    const auto b = blocks_.find(buddy);
    if (b == blocks_.end() || b->second.order != o || pages_.get(buddy).refcount != 0) break;
    remove(buddy, o);
    pfn = pfn < buddy ? pfn : buddy;
    ++o;
  }
  push(pfn, o);
}

void PageAllocator::add_free_range(Pfn first, Pfn end) {
  if (end.value > pages_.size()) model_bug("boot range beyond the last page");
  const bool boot_owned_only = pages_.all_of(first.value, end.value, [](const Page& p) {
    return p.refcount == 1 && !p.pinned && p.mapcount == 0 && !p.dma_pooled;
  });
  if (!boot_owned_only) model_bug("boot range page already free or still in use");
  const uint64_t n = end.value > first.value ? end.value - first.value : 0;
  pages_.fill_range(first.value, end.value, Page{});
  free_pages_ += n;
  ledger_.charge(sim::Event::kGuestPageFree, n);
  // Freed page by page in ascending order, the range ends up as its maximal aligned blocks,
  // each pushed when its last page was freed: so freeing those blocks in ascending order gives
  // the same lists in the same order.
  for (uint64_t pfn = first.value; pfn < end.value;) {
    unsigned o = 0;
    while (o < kMaxOrder && (pfn & ((uint64_t{2} << o) - 1)) == 0 &&
           pfn + (uint64_t{2} << o) <= end.value) {
      ++o;
    }
    merge_and_push(pfn, o);
    pfn += uint64_t{1} << o;
  }
}

Pfn PageAllocator::alloc(unsigned order) {
  unsigned o = order;
  while (o <= kMaxOrder && heads_[o] == kNone) ++o;
  if (o > kMaxOrder) return kInvalidPfn;
  const uint64_t pfn = heads_[o];
  remove(pfn, o);
  while (o > order) {  // split, keeping the lower half
    --o;
    push(pfn + (uint64_t{1} << o), o);
  }
  const uint64_t n = uint64_t{1} << order;
  for (uint64_t i = 0; i < n; ++i) {
    Page& p = pages_.mut(pfn + i);
    p = Page{};
    p.refcount = 1;
  }
  free_pages_ -= n;
  ledger_.charge(sim::Event::kGuestPageAlloc, n);
  return Pfn{pfn};
}

void PageAllocator::free(Pfn first, unsigned order) {
  const uint64_t n = uint64_t{1} << order;
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t pfn = first.value + i;
    Page& p = page(Pfn{pfn});
    // A free page has refcount 0, whether it heads a free block or lies inside one.
    if (p.refcount == 0) model_bug("double free of pfn " + std::to_string(pfn));
    if (p.pinned) model_bug("freeing pinned page-table page " + std::to_string(pfn));
    if (p.mapcount != 0) model_bug("freeing mapped page " + std::to_string(pfn));
    if (p.dma_pooled)
      model_bug("freeing a page still in the DMA-revoked pool " + std::to_string(pfn));
    p = Page{};
  }
  free_pages_ += n;
  ledger_.charge(sim::Event::kGuestPageFree, n);
  merge_and_push(first.value, order);
}

void PageAllocator::put(Pfn pfn) {
  Page& p = page(pfn);
  if (p.refcount == 0) model_bug("put of free page " + std::to_string(pfn.value));
  if (--p.refcount == 0) {
    p.refcount = 1;  // free() expects a live page
    free(pfn, 0);
  }
}

Watermarks Watermarks::linux_defaults(uint64_t managed_pages) {
  // min_free_kbytes = sqrt(16 * lowmem in KiB), clamped to [128 KiB, 256 MiB].
  const uint64_t kib = managed_pages * (kPageSize / 1024);
  auto root = static_cast<uint64_t>(std::sqrt(static_cast<double>(kib * 16)));
  while (root * root > kib * 16) --root;  // int_sqrt: the floor
  while ((root + 1) * (root + 1) <= kib * 16) ++root;
  const uint64_t min_kib = std::clamp<uint64_t>(root, 128, 262144);
  Watermarks w;
  w.min = min_kib / (kPageSize / 1024);
  // The gap between watermarks: a quarter of min, or 0.1 % of the zone if that is more.
  const uint64_t gap = std::max<uint64_t>(w.min / 4, managed_pages * 10 / 10000);
  w.low = w.min + gap;
  w.high = w.min + 2 * gap;
  return w;
}

}  // namespace pib::guest
