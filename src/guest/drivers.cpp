// SPDX-License-Identifier: MIT
#include "guest/drivers.hpp"

#include "common/error.hpp"

namespace pib::guest {

namespace {
constexpr uint32_t kMaxRing = kPageSize / hw::desc::kBytes;  // one page of descriptors
}

NicDriver::NicDriver(Kernel& kernel, VcpuId cpu, uint32_t ring_size, BufferPolicy policy)
    : k_(kernel), cpu_(cpu), size_(ring_size), policy_(policy) {
  if (ring_size == 0 || ring_size > kMaxRing) {
    throw InputError("nic: ring size must be 1.." + std::to_string(kMaxRing));
  }
  k_.enter_interrupt(cpu_);
  KernelCore& c = k_.core();
  rx_ring_ = c.alloc_page(true);
  tx_ring_ = c.alloc_page(true);
  rx_ring_dma_ = c.ops().dma_address(rx_ring_);
  tx_ring_dma_ = c.ops().dma_address(tx_ring_);
  for (uint32_t i = 0; i < size_; ++i) {
    rx_buf_.push_back(new_buffer());
    tx_buf_.push_back(new_buffer());
    write_desc(rx_ring_, i, c.ops().dma_address(rx_buf_[i]), hw::desc::kOwnedByDevice | kPageSize);
  }
}

Pfn NicDriver::new_buffer() {
  ++buffers_allocated_;
  return k_.core().alloc_page(false);
}

void NicDriver::release_buffer(Pfn pfn) {
  k_.core().pages().free(pfn);
}

void NicDriver::write_desc(Pfn ring, uint32_t i, uint64_t addr, uint64_t word1) {
  KernelCore& c = k_.core();
  c.kstore(c.direct_va(ring, i * hw::desc::kBytes), addr);
  c.kstore(c.direct_va(ring, i * hw::desc::kBytes + 8), word1);
}

uint64_t NicDriver::read_desc_word(Pfn ring, uint32_t i, uint32_t word) {
  KernelCore& c = k_.core();
  return c.kload(c.direct_va(ring, i * hw::desc::kBytes + 8ULL * word));
}

uint64_t NicDriver::rx_poll() {
  k_.enter_interrupt(cpu_);
  KernelCore& c = k_.core();
  uint64_t bytes = 0;
  for (uint32_t n = 0; n < size_; ++n) {
    const uint64_t w1 = read_desc_word(rx_ring_, rx_next_, 1);
    if (!(w1 & hw::desc::kDone)) break;
    c.ledger().charge(sim::Event::kGuestDriverRequests);
    bytes += w1 & hw::desc::kLengthMask;
    c.kload(c.direct_va(rx_buf_[rx_next_]));  // the stack reads the packet
    if (policy_ == BufferPolicy::kPerRequest) {
      // The buffer goes up the stack and is freed later; a fresh page is posted.
      release_buffer(rx_buf_[rx_next_]);
      rx_buf_[rx_next_] = new_buffer();
    }
    write_desc(rx_ring_, rx_next_, c.ops().dma_address(rx_buf_[rx_next_]),
               hw::desc::kOwnedByDevice | kPageSize);
    rx_next_ = (rx_next_ + 1) % size_;
  }
  return bytes;
}

uint32_t NicDriver::tx_post(uint32_t packets, uint32_t bytes) {
  k_.enter_interrupt(cpu_);
  KernelCore& c = k_.core();
  if (bytes == 0 || bytes > kPageSize) throw InputError("nic: packet size must be 1..4096 bytes");
  uint32_t posted = 0;
  for (; posted < packets; ++posted) {
    const uint64_t w1 = read_desc_word(tx_ring_, tx_next_, 1);
    if (w1 & hw::desc::kOwnedByDevice) break;  // ring full
    if (policy_ == BufferPolicy::kPerRequest) {
      release_buffer(tx_buf_[tx_next_]);
      tx_buf_[tx_next_] = new_buffer();
    }
    c.kstore(c.direct_va(tx_buf_[tx_next_]), (uint64_t{tx_next_} << 32) | bytes);  // the payload
    c.ledger().charge(sim::Event::kGuestDriverRequests);
    write_desc(tx_ring_, tx_next_, c.ops().dma_address(tx_buf_[tx_next_]),
               hw::desc::kOwnedByDevice | bytes);
    tx_next_ = (tx_next_ + 1) % size_;
  }
  return posted;
}

uint64_t NicDriver::tx_reap() {
  k_.enter_interrupt(cpu_);
  uint64_t bytes = 0;
  for (uint32_t n = 0; n < size_; ++n) {
    const uint64_t w1 = read_desc_word(tx_ring_, tx_reap_, 1);
    if (!(w1 & hw::desc::kDone)) break;
    bytes += w1 & hw::desc::kLengthMask;
    write_desc(tx_ring_, tx_reap_, 0, 0);
    tx_reap_ = (tx_reap_ + 1) % size_;
  }
  return bytes;
}

BlockDriver::BlockDriver(Kernel& kernel, VcpuId cpu, uint32_t queue_depth, uint32_t buffer_pages,
                         uint64_t seed)
    : k_(kernel), cpu_(cpu), depth_(queue_depth), rng_(seed) {
  if (queue_depth == 0 || queue_depth > kMaxRing) {
    throw InputError("disk: queue depth must be 1.." + std::to_string(kMaxRing));
  }
  if (buffer_pages == 0) throw InputError("disk: at least one buffer page is needed");
  k_.enter_interrupt(cpu_);
  queue_ = k_.core().alloc_page(true);
  queue_dma_ = k_.core().ops().dma_address(queue_);
  for (uint32_t i = 0; i < buffer_pages; ++i) buffers_.push_back(k_.core().alloc_page(false));
}

uint32_t BlockDriver::submit(uint32_t requests, uint32_t bytes, bool write, bool random) {
  k_.enter_interrupt(cpu_);
  KernelCore& c = k_.core();
  const uint32_t pages = static_cast<uint32_t>((bytes + kPageSize - 1) / kPageSize);
  if (bytes == 0 || pages > buffers_.size()) {
    throw InputError("disk: request size must be 1.." +
                     std::to_string(buffers_.size() * kPageSize) + " bytes for this buffer pool");
  }
  uint32_t posted = 0;
  for (; posted < requests && tail_ - head_ + pages <= depth_; ++posted) {
    const uint32_t slot = tail_ % depth_;
    // A request's buffer: `pages` consecutive pool pages (contiguous here for simplicity of
    // the descriptor: one buffer address per request, as a scatter-gather list of one).
    uint32_t first = 0;
    if (random) {
      first = static_cast<uint32_t>(rng_() % (buffers_.size() - pages + 1));
    } else {
      if (next_buffer_ + pages > buffers_.size()) next_buffer_ = 0;
      first = next_buffer_;
      next_buffer_ += pages;
    }
    // Bus addresses of consecutive pool pages are consecutive only natively; under Xen PV the
    // device needs one descriptor per page, as xen-swiotlb splits machine-discontiguous runs.
    for (uint32_t p = 0; p < pages; ++p) {
      const uint64_t w1 = hw::desc::kOwnedByDevice | (write ? 0 : hw::desc::kToMemory) |
                          (p > 0 ? hw::desc::kContinuation : 0) |
                          std::min<uint64_t>(kPageSize, bytes - uint64_t{p} * kPageSize);
      const uint32_t s = (slot + p) % depth_;
      c.kstore(c.direct_va(queue_, s * hw::desc::kBytes), c.ops().dma_address(buffers_[first + p]));
      c.kstore(c.direct_va(queue_, s * hw::desc::kBytes + 8), w1);
    }
    tail_ += pages;
    c.ledger().charge(sim::Event::kGuestDriverRequests);
  }
  return posted;
}

uint64_t BlockDriver::reap() {
  k_.enter_interrupt(cpu_);
  KernelCore& c = k_.core();
  uint64_t bytes = 0;
  while (head_ != tail_) {
    const uint32_t s = head_ % depth_;
    const uint64_t w1 = c.kload(c.direct_va(queue_, s * hw::desc::kBytes + 8));
    if (!(w1 & hw::desc::kDone)) break;
    bytes += w1 & hw::desc::kLengthMask;
    c.kstore(c.direct_va(queue_, s * hw::desc::kBytes + 8), 0);
    ++head_;
  }
  return bytes;
}

}  // namespace pib::guest
