// SPDX-License-Identifier: MIT
// The fuzz target's input encoding (docs/fuzzing.md): a header byte giving the shape of the
// machine and domain, then operations of a few bytes each, decoded into hypercalls, guest
// accesses, DMA, mode switches, memory operations and timer programming on the fuzzed domain.
// Reads past the end of the input give zeros, so every byte string is an input.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "abi/hypercall.hpp"
#include "abi/start_info.hpp"
#include "common/types.hpp"
#include "xen/hypervisor.hpp"

namespace pib::fuzz {

// A small domain keeps one execution cheap: 160 pages need 4 initial page-table frames, and the
// auditor walks every frame after every step.
constexpr uint64_t kDomainPages = 160;
constexpr uint64_t kOtherPages = 64;
constexpr uint64_t kMachineFrames = 640;
constexpr uint64_t kFreeWindow = 24;  // free frames of the domain the input can name
// The superpage-block shape (header bytes 0xf0-0xff): a machine with room for an aligned 2 MiB
// block of frames, which the domain is given by populate_physmap as one extent (as a toolstack
// does), so that Xen 4.17 maps it for DMA as one I/O superpage; the input's free frames are the
// block's first ones (they have no direct-map alias), so a type change splits the superpage and
// the way back merges it again. No domain the builder makes owns a whole block: each block's
// first frame brings its I/O table in right behind it.
constexpr uint64_t kBlockMachineFrames = 1280;
constexpr uint64_t kBlockFrames = 512;
constexpr uint16_t kDevice = 0x100;  // the domain's assigned device

// Bytes of the input, read front to back; reads past the end give 0.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }
  uint8_t byte() { return pos_ < data_.size() ? data_[pos_++] : uint8_t{0}; }
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{byte()} << (8 * i);
    return v;
  }

 private:
  std::span<const uint8_t> data_;
  std::size_t pos_ = 0;
};

// Byte 0: the shape of the machine and domain.
struct Header {
  uint32_t vcpus = 1;            // bit 0: two vCPUs (on two CPUs)
  bool privileged = false;       // bit 1
  bool caching_mode = false;     // bit 2: the IOMMU caches not-present entries
  bool linear_pt = true;         // bit 3 clear: pv-linear-pt on
  bool superpage_block = false;  // bits 4-7 all set: the superpage-block shape
  explicit Header(uint8_t b)
      : vcpus(b & 1 ? 2 : 1),
        privileged(b & 2),
        caching_mode(b & 4),
        linear_pt(!(b & 8)),
        superpage_block((b & 0xF0) == 0xF0) {}
  // The bits above say all there is: header bytes with the same shape build the same machine.
  static constexpr unsigned kShapes = 32;
  static constexpr unsigned shape_of(uint8_t b) { return (b & 15) | ((b & 0xF0) == 0xF0 ? 16 : 0); }
};

enum class Kind : uint8_t {
  kMmuUpdate,
  kMmuext,
  kUpdateVaMapping,
  kMulticall,
  kStore,
  kXchg,
  kLoad,
  kDmaWrite,
  kDmaRead,
  kModeSwitch,
  kMemoryOp,  // shares nibble 14 with the mode switch (count 3-8)
  kTimer,
};
struct Op {
  Kind kind = Kind::kMmuUpdate;
  VcpuId vcpu = 0;
  abi::ForeignDom foreigndom = abi::kDomidSelf;  // mmuext_op reads the low 16 bits
  std::vector<abi::MmuUpdate> reqs;
  std::vector<abi::MmuextOp> ops;
  abi::UpdateVaMapping uvm;
  std::vector<abi::MulticallEntry> entries;
  Vaddr va;
  uint64_t value = 0;
  uint64_t iova = 0;
  bool to_kernel = false;
  uint64_t delay_ns = 0;
  uint32_t memory_cmd = 0;  // kMemoryOp
  abi::MemoryReservation reservation;
};

constexpr bool is_pool_cmd(uint32_t cmd) {
  return cmd == abi::kMmuextPtPoolAdd || cmd == abi::kMmuextPtPoolRemove;
}

// Turns bytes into operations on one configuration's domain (frame numbers are the same in all:
// checked when the configurations are built).
class Decoder {
 public:
  // `block`: the superpage-block shape's block (its first frames are the free ones the input
  // names), else kInvalidMfn (the domain's free frames from si.first_free_pfn).
  Decoder(Reader& in, const xen::Hypervisor& xen, const abi::StartInfo& si,
          const abi::StartInfo& other, uint32_t vcpus, Mfn block)
      : in_(in), xen_(xen), si_(si), other_(other), vcpus_(vcpus), block_(block) {}

  Op next();

 private:
  // A frame: the domain's initial page tables, a window of its free frames, another domain's
  // frames, Xen's own, the IOMMU's tables, absent machine frames. *pfn gets the guest frame
  // number when the frame is the domain's (else one past its end).
  Mfn frame(Pfn* pfn) { return frame_of(in_.byte(), pfn); }
  Mfn frame_of(uint8_t b, Pfn* pfn) const;
  uint64_t index();
  Vaddr pfn_va(Pfn pfn, uint64_t idx) const;
  // An entry value: a frame with one of a few flag sets and modifiers, or raw bits.
  uint64_t value();
  // A domain: the caller, a numeric id, the pseudo-domains, a missing domain.
  DomId domain_byte();
  // mmu_update's foreigndom: a page owner (domain_byte), or from 0xfa on one with a page-table
  // owner too (the PFD half).
  abi::ForeignDom foreign();
  abi::MmuUpdate mmu_update();
  abi::MmuextOp mmuext();
  // memory_op (the mode-switch nibble with count 3-8): 3, 4 decrease_reservation of one or two
  // frames; 5 populate_physmap at one frame's pfn (one given back, or one in use); 6
  // increase_reservation of one frame; 7, 8 decrease / populate with an order byte (0-9), a
  // domain and (populate) an address-width limit.
  void memory_op(unsigned count, Op& op);
  abi::UpdateVaMapping update_va_mapping();
  abi::MulticallEntry entry();

  Reader& in_;
  const xen::Hypervisor& xen_;
  const abi::StartInfo& si_;
  const abi::StartInfo& other_;
  uint32_t vcpus_;
  Mfn block_;
};

std::string describe(const Op& op);  // one line, for traces

}  // namespace pib::fuzz
