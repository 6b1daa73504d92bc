// SPDX-License-Identifier: MIT
#include "encoding.hpp"

#include <algorithm>

#include "common/hex.hpp"

namespace pib::fuzz {

namespace {

using namespace hw::pte_bits;

// The low nibble of an operation's first byte; common operations appear more than once.
constexpr std::array<Kind, 16> kKindOf = {Kind::kMmuUpdate,
                                          Kind::kMmuUpdate,
                                          Kind::kMmuUpdate,
                                          Kind::kMmuext,
                                          Kind::kMmuext,
                                          Kind::kMmuext,
                                          Kind::kUpdateVaMapping,
                                          Kind::kUpdateVaMapping,
                                          Kind::kMulticall,
                                          Kind::kStore,
                                          Kind::kXchg,
                                          Kind::kLoad,
                                          Kind::kDmaWrite,
                                          Kind::kDmaRead,
                                          Kind::kModeSwitch,
                                          Kind::kTimer};

// Commands a guest may send, undefined numbers included; the pool commands are PiBooster's.
constexpr std::array<uint32_t, 25> kMmuextCmds = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 18, 19, 20, 40, 41, 14, 21, 99};
constexpr std::array<uint64_t, 8> kFlagSets = {
    0,
    kPresent | kAccessed,
    kPresent | kRw | kAccessed | kDirty,
    kPresent | kRw | kUser | kAccessed | kDirty,
    kPresent | kRw | kPse,
    kPresent | kRw | kPcd | kPwt,
    kPresent | kUser,
    kRw | kUser | kAccessed,  // not present, with junk
};
// Entry indices worth naming: Xen's L4 slots and their edges, the direct-map slot, the last.
constexpr std::array<uint64_t, 12> kSpecialIndex = {255, 256, 257, 258, 259, 271,
                                                    272, 273, 274, 511, 510, 8};

// A domain byte: the caller, a numeric id, the pseudo-domains, a missing domain.
DomId domain_of(uint8_t b) {
  constexpr std::array<DomId, 6> kDoms = {abi::kDomidSelf, 0,     1, abi::kDomidIo,
                                          abi::kDomidXen,  0x7fff};
  return kDoms[b % kDoms.size()];
}

}  // namespace

Op Decoder::next() {
  const uint8_t head = in_.byte();
  Op op;
  op.kind = kKindOf[head & 15];
  op.vcpu = ((head >> 4) & 1) % vcpus_;
  const unsigned count = 1 + (head >> 5);  // 1..8
  switch (op.kind) {
    case Kind::kMmuUpdate:
      if (count == 8) op.foreigndom = foreign();
      for (unsigned i = 0; i < (count == 8 ? 2 : count); ++i) op.reqs.push_back(mmu_update());
      break;
    case Kind::kMmuext:
      if (count == 8) op.foreigndom = domain_byte();
      for (unsigned i = 0; i < (count == 8 ? 2 : count); ++i) op.ops.push_back(mmuext());
      break;
    case Kind::kUpdateVaMapping:
      op.uvm = update_va_mapping();
      break;
    case Kind::kMulticall:
      for (unsigned i = 0; i < std::min(count, 4u); ++i) op.entries.push_back(entry());
      break;
    case Kind::kStore:
    case Kind::kXchg:
    case Kind::kLoad: {
      Pfn pfn;
      frame(&pfn);
      op.va = pfn_va(pfn, index());
      if (op.kind != Kind::kLoad) op.value = value();
      break;
    }
    case Kind::kDmaWrite:
    case Kind::kDmaRead: {
      const Mfn m = frame(nullptr);
      op.iova = (m.value << kPageShift) + index() * 8;
      if (op.kind == Kind::kDmaWrite) op.value = value();
      break;
    }
    case Kind::kModeSwitch:
      if (count > 2) {
        memory_op(count, op);
        break;
      }
      op.to_kernel = count & 1;
      break;
    case Kind::kTimer:
      op.delay_ns = uint64_t{in_.byte()} * 50;
      break;
    case Kind::kMemoryOp:  // never in kKindOf: decoded from the mode-switch nibble
      break;
  }
  return op;
}

Mfn Decoder::frame_of(uint8_t b, Pfn* pfn) const {
  Pfn p{si_.nr_pages};
  Mfn m = kInvalidMfn;
  const uint64_t window = si_.nr_pt_frames + kFreeWindow;
  if (b < 0xF0) {
    const uint64_t k = b % window;
    const uint64_t free = k - si_.nr_pt_frames;
    if (k >= si_.nr_pt_frames && block_ != kInvalidMfn) {
      m = Mfn{block_.value + free};  // no guest frame with a direct-map alias: *pfn stays past it
    } else {
      p = Pfn{k < si_.nr_pt_frames ? k : si_.first_free_pfn.value + free};
      m = si_.p2m.at(p.value);
    }
  } else if (b < 0xF6) {
    m = other_.p2m.at((b - 0xF0) < 3 ? (b - 0xF0) : other_.nr_pages - (b - 0xF2));
  } else {
    switch (b) {
      case 0xF6:
        m = xen_.xen_l3();
        break;
      case 0xF7:
        m = Mfn{0};
        break;
      case 0xF8:
        m = Mfn{uint64_t{1} << 40};
        break;
      case 0xF9:
        m = xen_.domain(si_.domid).iommu_root;
        break;
      case 0xFA:
        m = Mfn{xen_.machine().memory().frame_count() - 1};
        break;
      default:
        p = Pfn{si_.nr_pages - 1 - (b - 0xFB)};
        m = si_.p2m.at(p.value);
        break;
    }
  }
  if (pfn != nullptr) *pfn = p;
  return m;
}

uint64_t Decoder::index() {
  const uint8_t b = in_.byte();
  return b < 0xC0 ? (b & 7) : kSpecialIndex[(b - 0xC0) % kSpecialIndex.size()];
}

Vaddr Decoder::pfn_va(Pfn pfn, uint64_t idx) const {
  if (pfn.value >= si_.nr_pages) return Vaddr{0x400000 + idx * 8};  // user space, unmapped
  return abi::direct_map_va(si_, pfn, idx * 8);
}

uint64_t Decoder::value() {
  const uint8_t f = in_.byte();
  if (f == 0xFF) return in_.u64();
  const Mfn m = frame(nullptr);
  uint64_t flags = kFlagSets[f & 7];
  if (f & 8) flags |= kNx;
  if (f & 16) flags |= kGlobal;
  if (f & 32) flags |= uint64_t{1} << 52;  // AVAIL_HIGH
  if (f & 128) flags ^= kUser;
  uint64_t v = (m.value << kPageShift) & 0x000ffffffffff000ULL;
  if (f & 64) v |= uint64_t{1} << 47;  // an address bit above the machine's
  return v | flags;
}

DomId Decoder::domain_byte() {
  return domain_of(in_.byte());
}

abi::ForeignDom Decoder::foreign() {
  constexpr std::array<abi::ForeignDom, 6> kWithPtOwner = {
      abi::foreigndom_of(1, 1),                     // the other domain's tables and frames
      abi::foreigndom_of(1, abi::kDomidSelf),       // its tables, the caller's frames
      abi::foreigndom_of(0, abi::kDomidSelf),       // the caller's own, named
      abi::foreigndom_of(1, abi::kDomidIo),         // its tables, I/O memory
      abi::foreigndom_of(0x7ffe, abi::kDomidSelf),  // no such page-table owner
      abi::foreigndom_of(0, 1),                     // the caller's tables, the other's frames
  };
  const uint8_t b = in_.byte();
  return b >= 0xFA ? kWithPtOwner[b - 0xFA] : domain_of(b);
}

abi::MmuUpdate Decoder::mmu_update() {
  const uint8_t c = in_.byte();
  const uint64_t cmd = c < 0x30   ? uint64_t{c & 7u}
                       : c & 0x40 ? uint64_t{abi::kMmuPtUpdatePreserveAd}
                                  : uint64_t{abi::kMmuNormalPtUpdate};
  const Mfn table = frame(nullptr);
  const uint64_t idx = index();
  const uint64_t ptr = ((table.value << kPageShift) + idx * 8) | cmd;
  return abi::MmuUpdate{ptr, cmd == abi::kMmuMachphysUpdate ? uint64_t{in_.byte()} : value()};
}

abi::MmuextOp Decoder::mmuext() {
  const uint32_t cmd = kMmuextCmds[in_.byte() % kMmuextCmds.size()];
  abi::MmuextOp op{cmd, 0, 0};
  switch (cmd) {
    case abi::kMmuextInvlpgLocal:
    case abi::kMmuextInvlpgMulti:
    case abi::kMmuextInvlpgAll: {
      Pfn pfn;
      const uint8_t b = in_.byte();
      if (b == 0xFF) {
        op.arg1 = 0x0000800000000000ULL;  // non-canonical
      } else {
        frame_of(b, &pfn);
        op.arg1 = pfn_va(pfn, 0).value;
      }
      break;
    }
    default:
      op.arg1 = frame(nullptr).value;
      break;
  }
  switch (cmd) {
    case abi::kMmuextTlbFlushMulti:
    case abi::kMmuextInvlpgMulti:
      op.arg2 = in_.byte() & 3;
      break;
    case abi::kMmuextCopyPage:
      op.arg2 = frame(nullptr).value;
      break;
    case abi::kMmuextSetLdt:
      op.arg2 = in_.byte();
      break;
    default:
      break;
  }
  return op;
}

void Decoder::memory_op(unsigned count, Op& op) {
  op.kind = Kind::kMemoryOp;
  abi::MemoryReservation& r = op.reservation;
  auto pfn_of_frame = [&] {
    Pfn pfn;
    frame(&pfn);
    return pfn.value;
  };
  switch (count) {
    case 3:
    case 4:
      op.memory_cmd = abi::kXenmemDecreaseReservation;
      for (unsigned i = 0; i < count - 2; ++i) r.extent_start.push_back(frame(nullptr).value);
      break;
    case 5:
      op.memory_cmd = abi::kXenmemPopulatePhysmap;
      r.extent_start.push_back(pfn_of_frame());
      break;
    case 6:
      op.memory_cmd = abi::kXenmemIncreaseReservation;
      r.extent_start.push_back(0);
      break;
    case 7:
      op.memory_cmd = abi::kXenmemDecreaseReservation;
      r.extent_order = in_.byte() % 10;
      r.domid = domain_byte();
      r.extent_start.push_back(frame(nullptr).value);
      break;
    default:
      op.memory_cmd = abi::kXenmemPopulatePhysmap;
      r.extent_order = in_.byte() % 10;
      r.domid = domain_byte();
      r.mem_flags = in_.byte() & abi::kXenmemfAddressBitsMask;
      r.extent_start.push_back(pfn_of_frame());
      break;
  }
}

abi::UpdateVaMapping Decoder::update_va_mapping() {
  Pfn pfn;
  frame(&pfn);
  abi::UpdateVaMapping u;
  u.va = pfn_va(pfn, 0);
  u.val = value();
  const uint8_t f = in_.byte();
  u.flags = f & 15;
  u.vcpumask = (f >> 4) & 3;
  return u;
}

abi::MulticallEntry Decoder::entry() {
  const uint8_t s = in_.byte();
  abi::MulticallEntry e;
  const unsigned n = 1 + ((s >> 3) & 1);
  switch (s % 5) {
    case 0:
      e.op = abi::HypercallNr::kMmuUpdate;
      for (unsigned i = 0; i < n; ++i) e.mmu_updates.push_back(mmu_update());
      break;
    case 1:
      e.op = abi::HypercallNr::kMmuextOp;
      for (unsigned i = 0; i < n; ++i) e.mmuext_ops.push_back(mmuext());
      break;
    case 2:
      e.op = abi::HypercallNr::kUpdateVaMapping;
      e.uvm = update_va_mapping();
      break;
    case 3:
      e.op = abi::HypercallNr::kIret;
      break;
    default:
      e.op = abi::HypercallNr::kMulticall;  // nested: refused
      break;
  }
  return e;
}

static std::string describe_ops(const std::vector<abi::MmuUpdate>& reqs) {
  std::string s;
  for (const auto& r : reqs) s += " [" + hex(r.ptr) + "]=" + hex(r.val);
  return s;
}
static std::string describe_ops(const std::vector<abi::MmuextOp>& ops) {
  std::string s;
  for (const auto& o : ops)
    s += " " + abi::mmuext_name(o.cmd) + "(" + hex(o.arg1) + "," + hex(o.arg2) + ")";
  return s;
}
static std::string describe_uvm(const abi::UpdateVaMapping& u) {
  return " va " + hex(u.va.value) + " = " + hex(u.val) + " flags " + hex(u.flags) + " mask " +
         hex(u.vcpumask);
}

std::string describe(const Op& op) {
  std::string s = "vcpu" + std::to_string(op.vcpu) + " ";
  switch (op.kind) {
    case Kind::kMmuUpdate:
      return s + "mmu_update dom " + hex(op.foreigndom) + describe_ops(op.reqs);
    case Kind::kMmuext:
      return s + "mmuext_op dom " + hex(op.foreigndom) + describe_ops(op.ops);
    case Kind::kUpdateVaMapping:
      return s + "update_va_mapping" + describe_uvm(op.uvm);
    case Kind::kMulticall:
      s += "multicall";
      for (const auto& e : op.entries) {
        s += " {" + std::to_string(static_cast<uint32_t>(e.op)) + describe_ops(e.mmu_updates) +
             describe_ops(e.mmuext_ops) +
             (e.op == abi::HypercallNr::kUpdateVaMapping ? describe_uvm(e.uvm) : "") + "}";
      }
      return s;
    case Kind::kStore:
      return s + "store " + hex(op.va.value) + " = " + hex(op.value);
    case Kind::kXchg:
      return s + "xchg " + hex(op.va.value) + " = " + hex(op.value);
    case Kind::kLoad:
      return s + "load " + hex(op.va.value);
    case Kind::kDmaWrite:
      return s + "dma write " + hex(op.iova) + " = " + hex(op.value);
    case Kind::kDmaRead:
      return s + "dma read " + hex(op.iova);
    case Kind::kModeSwitch:
      return s + (op.to_kernel ? "switch to kernel" : "switch to user");
    case Kind::kMemoryOp: {
      s += "memory_op " + std::to_string(op.memory_cmd) + " order " +
           std::to_string(op.reservation.extent_order) + " dom " + hex(op.reservation.domid) +
           " flags " + hex(op.reservation.mem_flags);
      for (const uint64_t e : op.reservation.extent_start) s += " " + hex(e);
      return s;
    }
    case Kind::kTimer:
      return s + "timer +" + std::to_string(op.delay_ns) + " ns";
  }
  return s;
}

}  // namespace pib::fuzz
