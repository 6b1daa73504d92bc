// SPDX-License-Identifier: MIT
#include "hw/dma_devices.hpp"

#include <optional>

namespace pib::hw {

DmaResult DmaPath::u64(uint64_t addr, bool write, uint64_t value) {
  if (iommu_ != nullptr) return iommu_->dma_u64(device_, addr, write, value);
  const Maddr ma{addr};
  if ((addr & 7) != 0 || !memory_.is_valid(mfn_of(ma))) return DmaResult{};
  DmaResult r{true, 0, mfn_of(ma)};
  if (write) {
    memory_.write_u64(ma, value);
  } else {
    r.value = memory_.read_u64(ma);
  }
  return r;
}

DmaResult DmaPath::page(uint64_t addr, bool write, uint64_t fill) {
  if (iommu_ != nullptr) return iommu_->dma_page(device_, addr, write, fill);
  const DmaResult first = u64(addr, write, fill);
  if (!first.ok) return first;
  ledger_.charge(sim::Event::kHwDmaPage);
  if (write) {
    for (uint64_t i = 1; i < kEntriesPerTable; ++i) memory_.write_entry(*first.mfn, i, fill);
  }
  return first;
}

namespace {
// The descriptor at the ring's head, if the driver posted one the device can read.
struct Posted {
  uint64_t at = 0;      // DMA address of the descriptor
  uint64_t buffer = 0;  // word 0
  uint64_t word1 = 0;
};
std::optional<Posted> fetch_posted(DmaPath& dma, const Ring& ring) {
  const uint64_t d = ring.dma + ring.head * desc::kBytes;
  const DmaResult w0 = dma.u64(d, false);
  const DmaResult w1 = dma.u64(d + 8, false);
  if (!w0.ok || !w1.ok || !(w1.value & desc::kOwnedByDevice)) return std::nullopt;
  return Posted{d, w0.value, w1.value};
}

// Moves `bytes` between the buffer at `addr` and the device, page by page.
bool move(DmaPath& dma, uint64_t addr, uint64_t bytes, bool to_memory, uint64_t fill) {
  for (uint64_t off = 0; off < bytes; off += kPageSize) {
    if (!dma.page((addr & ~(kPageSize - 1)) + off, to_memory, fill).ok) return false;
  }
  return true;
}
}  // namespace

uint64_t Nic::receive(uint64_t packets, uint32_t bytes) {
  DeviceClockScope clock(ledger_, clock_);
  uint64_t delivered = 0;
  for (uint64_t p = 0; p < packets; ++p) {
    if (rx_.size == 0) {
      ledger_.charge(sim::Event::kDevNicDrops);
      continue;
    }
    const auto posted = fetch_posted(dma_, rx_);
    if (!posted) {
      ledger_.charge(sim::Event::kDevNicDrops);  // no buffer posted (or the ring is unreachable)
      continue;
    }
    ledger_.charge(sim::Event::kDevNicPackets);
    ledger_.charge(sim::Event::kDevNicBytes, bytes);
    const bool ok = move(dma_, posted->buffer, bytes, true, (uint64_t{clock_} << 48) | p);
    // Write back: done, with the length received (0 when the buffer DMA was blocked).
    dma_.u64(posted->at + 8, true, desc::kDone | (ok ? bytes : 0));
    rx_.head = (rx_.head + 1) % rx_.size;
    if (ok) ++delivered;
  }
  return delivered;
}

uint64_t Nic::transmit() {
  DeviceClockScope clock(ledger_, clock_);
  uint64_t sent = 0;
  for (uint32_t i = 0; i < tx_.size; ++i) {
    const auto posted = fetch_posted(dma_, tx_);
    if (!posted) break;
    const uint64_t bytes = posted->word1 & desc::kLengthMask;
    ledger_.charge(sim::Event::kDevNicPackets);
    ledger_.charge(sim::Event::kDevNicBytes, bytes);
    const bool ok = move(dma_, posted->buffer, bytes, false, 0);
    dma_.u64(posted->at + 8, true, desc::kDone | (ok ? bytes : 0));
    tx_.head = (tx_.head + 1) % tx_.size;
    ++sent;
  }
  return sent;
}

uint64_t BlockDevice::process() {
  DeviceClockScope clock(ledger_, clock_);
  uint64_t done = 0;
  for (uint32_t i = 0; i < q_.size; ++i) {
    const auto posted = fetch_posted(dma_, q_);
    if (!posted) break;
    const uint64_t bytes = posted->word1 & desc::kLengthMask;
    const bool to_memory = (posted->word1 & desc::kToMemory) != 0;
    if (!(posted->word1 & desc::kContinuation)) ledger_.charge(sim::Event::kDevDiskRequests);
    ledger_.charge(sim::Event::kDevDiskBytes, bytes);
    const bool ok = move(dma_, posted->buffer, bytes, to_memory, 0xd15c);
    dma_.u64(posted->at + 8, true, desc::kDone | (ok ? bytes : 0));
    q_.head = (q_.head + 1) % q_.size;
    ++done;
  }
  return done;
}

}  // namespace pib::hw
