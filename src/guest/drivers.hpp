// SPDX-License-Identifier: MIT
// Guest device drivers as Linux's behave towards a DMA device: descriptor rings in kernel
// memory, buffers handed to the device by bus address, completions reaped and buffers
// recycled — either from a stable pool (page_pool-style recycling: the same pages again and
// again) or allocated and freed per request (so buffer pages flow through the page allocator
// and may come back as page tables, and vice versa).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "guest/kernel.hpp"
#include "hw/dma_devices.hpp"

namespace pib::guest {

enum class BufferPolicy { kStablePool, kPerRequest };

class NicDriver {
 public:
  NicDriver(Kernel& kernel, VcpuId cpu, uint32_t ring_size, BufferPolicy policy);
  uint64_t rx_ring_dma() const { return rx_ring_dma_; }
  uint64_t tx_ring_dma() const { return tx_ring_dma_; }
  uint32_t ring_size() const { return size_; }

  // Receive interrupt: consume every completed RX descriptor, recycle its buffer, repost.
  // Returns the bytes received.
  uint64_t rx_poll();
  // Queue `packets` of `bytes` for transmission (filling the buffers), and reap completions.
  uint32_t tx_post(uint32_t packets, uint32_t bytes);
  uint64_t tx_reap();
  uint64_t buffers_allocated() const { return buffers_allocated_; }

 private:
  Pfn new_buffer();
  void release_buffer(Pfn pfn);
  void write_desc(Pfn ring, uint32_t i, uint64_t addr, uint64_t word1);
  uint64_t read_desc_word(Pfn ring, uint32_t i, uint32_t word);

  Kernel& k_;
  VcpuId cpu_;
  uint32_t size_;
  BufferPolicy policy_;
  Pfn rx_ring_, tx_ring_;
  uint64_t rx_ring_dma_ = 0, tx_ring_dma_ = 0;
  std::vector<Pfn> rx_buf_, tx_buf_;
  uint32_t rx_next_ = 0, tx_next_ = 0, tx_reap_ = 0;
  uint64_t buffers_allocated_ = 0;
};

class BlockDriver {
 public:
  // `buffer_pages`: the pages I/O lands in (the page cache's share for this file), chosen
  // sequentially or at random (seeded) for each request.
  BlockDriver(Kernel& kernel, VcpuId cpu, uint32_t queue_depth, uint32_t buffer_pages,
              uint64_t seed);
  uint64_t queue_dma() const { return queue_dma_; }
  uint32_t queue_depth() const { return depth_; }
  // Posts up to the queue depth of requests of `bytes` each (reads into memory unless `write`).
  uint32_t submit(uint32_t requests, uint32_t bytes, bool write, bool random);
  uint64_t reap();  // returns bytes completed

 private:
  Kernel& k_;
  VcpuId cpu_;
  uint32_t depth_;
  Pfn queue_;
  uint64_t queue_dma_ = 0;
  std::vector<Pfn> buffers_;
  uint32_t next_buffer_ = 0;
  uint32_t head_ = 0, tail_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace pib::guest
