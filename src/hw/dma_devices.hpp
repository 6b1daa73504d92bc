// SPDX-License-Identifier: MIT
// DMA devices: a NIC with receive and transmit descriptor rings and a block device with a
// request ring, all in host (guest) memory, driven the way real devices are: the device reads a
// descriptor the driver posted, moves the data by DMA (through the IOMMU when it translates for
// the device), writes the descriptor back as done. Every access the device makes is a DMA, so
// IOTLB hits, misses and blocked requests follow from what the driver posted.
//
// Descriptor (16 bytes): word 0 = buffer DMA address; word 1 = length (bits 0-31), write-to-
// memory flag for block requests (bit 61), done (bit 62), owned by the device (bit 63).
// Devices keep their own virtual clock: their work is charged to ledger clock `clock`.
#pragma once

#include <cstdint>

#include "hw/iommu.hpp"
#include "hw/machine_memory.hpp"
#include "sim/ledger.hpp"

namespace pib::hw {

namespace desc {
inline constexpr uint64_t kOwnedByDevice = 1ULL << 63;
inline constexpr uint64_t kDone = 1ULL << 62;
inline constexpr uint64_t kToMemory = 1ULL << 61;      // block: a read from the disk into memory
inline constexpr uint64_t kContinuation = 1ULL << 60;  // block: more pages of the same request
inline constexpr uint64_t kLengthMask = 0xffffffffULL;
inline constexpr uint64_t kBytes = 16;
}  // namespace desc

// The DMA path of one device: through the IOMMU if there is one that translates for it.
class DmaPath {
 public:
  DmaPath(MachineMemory& memory, Iommu* iommu, sim::Ledger& ledger, uint16_t device)
      : memory_(memory), iommu_(iommu), ledger_(ledger), device_(device) {}
  DmaResult u64(uint64_t addr, bool write, uint64_t value = 0);
  DmaResult page(uint64_t addr, bool write, uint64_t fill = 0);
  uint16_t device() const { return device_; }

 private:
  MachineMemory& memory_;
  Iommu* iommu_;
  sim::Ledger& ledger_;
  uint16_t device_;
};

struct Ring {
  uint64_t dma = 0;  // ring base (DMA address)
  uint32_t size = 0;
  uint32_t head = 0;  // next descriptor the device looks at
};

class Nic {
 public:
  Nic(DmaPath path, sim::Ledger& ledger, uint32_t clock)
      : dma_(path), ledger_(ledger), clock_(clock) {}
  void set_rx_ring(uint64_t dma, uint32_t size) { rx_ = Ring{dma, size, 0}; }
  void set_tx_ring(uint64_t dma, uint32_t size) { tx_ = Ring{dma, size, 0}; }
  // `packets` arrive from the wire; each goes into the next posted receive buffer. Returns
  // how many were delivered (the rest are dropped).
  uint64_t receive(uint64_t packets, uint32_t bytes);
  // Sends every posted transmit descriptor. Returns how many.
  uint64_t transmit();

 private:
  DmaPath dma_;
  sim::Ledger& ledger_;
  uint32_t clock_;
  Ring rx_, tx_;
};

class BlockDevice {
 public:
  BlockDevice(DmaPath path, sim::Ledger& ledger, uint32_t clock)
      : dma_(path), ledger_(ledger), clock_(clock) {}
  void set_queue(uint64_t dma, uint32_t size) { q_ = Ring{dma, size, 0}; }
  // Completes every posted request. Returns how many.
  uint64_t process();

 private:
  DmaPath dma_;
  sim::Ledger& ledger_;
  uint32_t clock_;
  Ring q_;
};

// Charges to a device's clock for the lifetime of the object.
class DeviceClockScope {
 public:
  DeviceClockScope(sim::Ledger& ledger, uint32_t clock) : ledger_(ledger), saved_(ledger.cpu()) {
    ledger_.set_cpu(clock);
  }
  ~DeviceClockScope() { ledger_.set_cpu(saved_); }
  DeviceClockScope(const DeviceClockScope&) = delete;
  DeviceClockScope& operator=(const DeviceClockScope&) = delete;

 private:
  sim::Ledger& ledger_;
  uint32_t saved_;
};

}  // namespace pib::hw
