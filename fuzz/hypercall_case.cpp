// SPDX-License-Identifier: MIT
#include "hypercall_case.hpp"

#include <malloc.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <vector>

#include "abi/hypercall.hpp"
#include "hw/iommu.hpp"
#include "policies/policy_table.hpp"
#include "xen/audit.hpp"
#include "xen/domain_builder.hpp"
#include "xen/hypervisor.hpp"

namespace pib::fuzz {

namespace {

using namespace hw::pte_bits;
using abi::err::kEINVAL;
using abi::err::kENOMEM;
using abi::err::kENOSYS;
using abi::err::kEOPNOTSUPP;

// A small domain keeps one execution cheap: 160 pages need 4 initial page-table frames, and the
// auditor walks every frame after every step.
constexpr uint64_t kDomainPages = 160;
constexpr uint64_t kOtherPages = 64;
constexpr uint64_t kMachineFrames = 640;
constexpr uint64_t kFreeWindow = 24;  // free frames of the domain the input can name
constexpr uint16_t kDevice = 0x100;   // the domain's assigned device
constexpr std::size_t kMaxSteps = 256;
// Every event costs the same: the clock only has to move so that timers fire and preempt
// hypercalls (continuations), not to model time.
constexpr double kUnitNs = 40.0;

// ---- the input ------------------------------------------------------------------------------

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
  uint32_t vcpus = 1;         // bit 0: two vCPUs (on two CPUs)
  bool privileged = false;    // bit 1
  bool caching_mode = false;  // bit 2: the IOMMU caches not-present entries
  bool linear_pt = true;      // bit 3 clear: pv-linear-pt on
  explicit Header(uint8_t b)
      : vcpus(b & 1 ? 2 : 1), privileged(b & 2), caching_mode(b & 4), linear_pt(!(b & 8)) {}
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

struct Op {
  Kind kind = Kind::kMmuUpdate;
  VcpuId vcpu = 0;
  DomId foreigndom = abi::kDomidSelf;
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

// Commands a guest may send, undefined numbers included; the pool commands are PiBooster's.
constexpr std::array<uint32_t, 25> kMmuextCmds = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 18, 19, 20, 40, 41, 14, 21, 99};
constexpr bool is_pool_cmd(uint32_t cmd) {
  return cmd == abi::kMmuextPtPoolAdd || cmd == abi::kMmuextPtPoolRemove;
}
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

// Turns bytes into operations on one configuration's domain (frame numbers are the same in all:
// checked when the configurations are built).
class Decoder {
 public:
  Decoder(Reader& in, const xen::Hypervisor& xen, const abi::StartInfo& si,
          const abi::StartInfo& other, uint32_t vcpus)
      : in_(in), xen_(xen), si_(si), other_(other), vcpus_(vcpus) {}

  Op next() {
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
        if (count == 8) op.foreigndom = foreign();
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

 private:
  // A frame: the domain's initial page tables, a window of its free frames, another domain's
  // frames, Xen's own, the IOMMU's tables, absent machine frames. *pfn gets the guest frame
  // number when the frame is the domain's (else one past its end).
  Mfn frame(Pfn* pfn) { return frame_of(in_.byte(), pfn); }
  Mfn frame_of(uint8_t b, Pfn* pfn) const {
    Pfn p{si_.nr_pages};
    Mfn m = kInvalidMfn;
    const uint64_t window = si_.nr_pt_frames + kFreeWindow;
    if (b < 0xF0) {
      const uint64_t k = b % window;
      p = Pfn{k < si_.nr_pt_frames ? k : si_.first_free_pfn.value + (k - si_.nr_pt_frames)};
      m = si_.p2m.at(p.value);
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
          m = Mfn{kMachineFrames - 1};
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
  uint64_t index() {
    const uint8_t b = in_.byte();
    return b < 0xC0 ? (b & 7) : kSpecialIndex[(b - 0xC0) % kSpecialIndex.size()];
  }
  Vaddr pfn_va(Pfn pfn, uint64_t idx) const {
    if (pfn.value >= si_.nr_pages) return Vaddr{0x400000 + idx * 8};  // user space, unmapped
    return abi::direct_map_va(si_, pfn, idx * 8);
  }
  // An entry value: a frame with one of a few flag sets and modifiers, or raw bits.
  uint64_t value() {
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
  DomId foreign() {
    constexpr std::array<DomId, 6> kDoms = {abi::kDomidSelf, 0,     1, abi::kDomidIo,
                                            abi::kDomidXen,  0x7fff};
    return kDoms[in_.byte() % kDoms.size()];
  }
  abi::MmuUpdate mmu_update() {
    const uint8_t c = in_.byte();
    const uint64_t cmd = c < 0x30   ? uint64_t{c & 7u}
                         : c & 0x40 ? uint64_t{abi::kMmuPtUpdatePreserveAd}
                                    : uint64_t{abi::kMmuNormalPtUpdate};
    const Mfn table = frame(nullptr);
    const uint64_t idx = index();
    const uint64_t ptr = ((table.value << kPageShift) + idx * 8) | cmd;
    return abi::MmuUpdate{ptr, cmd == abi::kMmuMachphysUpdate ? uint64_t{in_.byte()} : value()};
  }
  abi::MmuextOp mmuext() {
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
  // memory_op (the mode-switch nibble with count 3-8): 3, 4 decrease_reservation of one or two
  // frames; 5 populate_physmap at one frame's pfn (one given back, or one in use); 6
  // increase_reservation of one frame; 7, 8 decrease / populate with an order byte (0-9), a
  // domain and (populate) an address-width limit.
  void memory_op(unsigned count, Op& op) {
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
        r.domid = foreign();
        r.extent_start.push_back(frame(nullptr).value);
        break;
      default:
        op.memory_cmd = abi::kXenmemPopulatePhysmap;
        r.extent_order = in_.byte() % 10;
        r.domid = foreign();
        r.mem_flags = in_.byte() & abi::kXenmemfAddressBitsMask;
        r.extent_start.push_back(pfn_of_frame());
        break;
    }
  }
  abi::UpdateVaMapping update_va_mapping() {
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
  abi::MulticallEntry entry() {
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

  Reader& in_;
  const xen::Hypervisor& xen_;
  const abi::StartInfo& si_;
  const abi::StartInfo& other_;
  uint32_t vcpus_;
};

// ---- the configurations -----------------------------------------------------------------------

struct World {
  std::string label;
  sim::Ledger ledger;
  hw::Machine machine;
  xen::Hypervisor xen;
  abi::StartInfo si;
  abi::StartInfo other;
  std::set<uint64_t> given_back;  // MFNs a decrease_reservation has named

  World(std::string name, xen::XenGeneration g, std::unique_ptr<xen::ValidationPolicy> policy,
        const Header& h)
      : label(std::move(name)),
        machine(hw::MachineParams{.frames = kMachineFrames,
                                  .cpus = 2,
                                  .tlb = {},
                                  .iommu = hw::IommuParams{.caching_mode = h.caching_mode}},
                ledger),
        xen(machine, ledger, xen::XenParams{.generation = g, .pv_linear_pt = h.linear_pt}) {
    if (policy) xen.set_validation_policy(std::move(policy));
    si = xen::build_pv_domain(xen, xen::PvDomainSpec{.pages = kDomainPages,
                                                     .vcpus = h.vcpus,
                                                     .privileged = h.privileged,
                                                     .iommu = xen::IommuMode::kSync});
    other = xen::build_pv_domain(
        xen,
        xen::PvDomainSpec{
            .pages = kOtherPages, .vcpus = 1, .privileged = false, .iommu = xen::IommuMode::kSync});
    xen.set_port_domain(si.domid);
    xen.assign_device(si.domid, kDevice);
    std::array<double, sim::kEventCount> unit{};
    unit.fill(kUnitNs);
    ledger.set_clock(unit);
  }
};

// What the guest (or device) saw of one operation.
struct Outcome {
  int64_t rc = 0;
  uint32_t done = 0;
  std::vector<int64_t> sub;  // multicall entries' results
  uint64_t value = 0;        // loaded / DMA-read value
  bool operator==(const Outcome&) const = default;
};

Outcome fault_or_ok(bool ok, uint64_t value) {
  return Outcome{.rc = ok ? 0 : abi::err::kEFAULT, .done = 0, .sub = {}, .value = ok ? value : 0};
}

// The result a paper-era configuration gives a device write into XSA-288's hole: a page table
// that was never writable is still DMA-writable there (xen-pv-mmu.md A3, as the auditor
// allows), so the write is not performed — it would corrupt a validated table, which is the
// advisory, not a model bug. Not an errno: no configuration can return it otherwise.
constexpr int64_t kXsa288Hole = 288;

bool in_xsa288_hole(const World& w, uint64_t iova) {
  if (w.xen.params().generation != xen::XenGeneration::kPaperEra) return false;
  const Mfn m{iova >> kPageShift};
  if (!w.xen.frame_table().valid(m)) return false;
  const xen::PageInfo& pg = w.xen.frame_table()[m];
  // The advisory's other half: a frame given back, mapped again on a type change to writable
  // and then freed stays in the IOMMU (no cleanup_page_mappings before 4.12).
  if (w.given_back.count(m.value) != 0 && pg.owner != w.si.domid) return true;
  const bool live_pt =
      pg.type != xen::PageType::kWritable && pg.type != xen::PageType::kNone && pg.type_count > 0;
  return pg.owner == w.si.domid && live_pt && !pg.ever_writable && !pg.dma_revoked;
}

Outcome execute(World& w, const Op& op) {
  auto& x = w.xen;
  Outcome out;
  switch (op.kind) {
    case Kind::kMmuUpdate:
      out.rc = x.mmu_update(op.vcpu, op.reqs, &out.done, op.foreigndom);
      break;
    case Kind::kMmuext:
      out.rc = x.mmuext_op(op.vcpu, op.ops, &out.done, op.foreigndom);
      break;
    case Kind::kUpdateVaMapping:
      out.rc = x.update_va_mapping(op.vcpu, op.uvm);
      break;
    case Kind::kMulticall: {
      std::vector<abi::MulticallEntry> entries = op.entries;  // the hypervisor rewrites them
      out.rc = x.multicall(op.vcpu, entries);
      for (const auto& e : entries) out.sub.push_back(e.result);
      break;
    }
    case Kind::kStore:
    case Kind::kXchg: {
      const auto r = x.guest_access(
          op.vcpu,
          hw::MemRequest{op.va, op.kind == Kind::kStore ? hw::MemOp::kStore : hw::MemOp::kXchg,
                         hw::Mode::kUser, op.value});
      out = fault_or_ok(r.ok, op.kind == Kind::kXchg ? r.value : 0);
      break;
    }
    case Kind::kLoad: {
      const auto r = x.guest_access(op.vcpu, hw::MemRequest{op.va, hw::MemOp::kLoad});
      out = fault_or_ok(r.ok, r.value);
      break;
    }
    case Kind::kDmaWrite:
    case Kind::kDmaRead: {
      if (op.kind == Kind::kDmaWrite && in_xsa288_hole(w, op.iova)) {
        out.rc = kXsa288Hole;
        break;
      }
      const auto r =
          w.machine.iommu()->dma_u64(kDevice, op.iova, op.kind == Kind::kDmaWrite, op.value);
      out = fault_or_ok(r.ok, r.value);
      break;
    }
    case Kind::kModeSwitch:
      out.rc = x.switch_guest_mode(op.vcpu, op.to_kernel);
      break;
    case Kind::kMemoryOp: {
      // The extents done (or an error) only: which machine frames a populate chose is Xen's
      // business, and configurations may have handed different frames to their I/O tables.
      abi::MemoryReservation r = op.reservation;
      out.rc = x.memory_op(op.vcpu, op.memory_cmd, r);
      if (op.memory_cmd == abi::kXenmemDecreaseReservation) {
        const uint64_t frames = uint64_t{1} << op.reservation.extent_order;
        for (const uint64_t first : op.reservation.extent_start) {
          for (uint64_t f = 0; f < frames && first + f < kMachineFrames; ++f) {
            w.given_back.insert(first + f);
          }
        }
      }
      break;
    }
    case Kind::kTimer:
      out.rc = op.delay_ns == 0 ? x.vcpu_op(op.vcpu, abi::kVcpuOpStopSingleshotTimer, 0)
                                : x.vcpu_op(op.vcpu, abi::kVcpuOpSetSingleshotTimer,
                                            x.system_time_ns(op.vcpu) + op.delay_ns);
      break;
  }
  return out;
}

std::string describe(const Outcome& o) {
  std::string s = "rc " + std::string(abi::error_name(o.rc)) + " done " + std::to_string(o.done);
  for (int64_t r : o.sub) s += " " + std::string(abi::error_name(r));
  if (o.value != 0) s += " value " + std::to_string(o.value);
  return s;
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string describe_ops(const std::vector<abi::MmuUpdate>& reqs) {
  std::string s;
  for (const auto& r : reqs) s += " [" + hex(r.ptr) + "]=" + hex(r.val);
  return s;
}
std::string describe_ops(const std::vector<abi::MmuextOp>& ops) {
  std::string s;
  for (const auto& o : ops)
    s += " " + abi::mmuext_name(o.cmd) + "(" + hex(o.arg1) + "," + hex(o.arg2) + ")";
  return s;
}
std::string describe_uvm(const abi::UpdateVaMapping& u) {
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

// ---- the oracles ----------------------------------------------------------------------------

// Continuations re-enter at once in the model, so no hypercall returns to the guest with a
// table left PGT_partial or a deferred put pending (old_guest_table).
std::string partial_left(const xen::Hypervisor& xen) {
  for (const DomId id : xen.domain_ids()) {
    const xen::Domain& d = xen.domain(id);
    for (const xen::Vcpu& v : d.vcpus) {
      if (v.old_guest_table) return "old_guest_table pending after the hypercall";
    }
    for (const Mfn m : d.pages) {
      // (A partial table whose old_guest_table reference Xen dropped stays partial for good:
      // the leak is recorded, xen.ref_leaked, and the auditor counts it.)
      const xen::PageInfo& pg = xen.frame_table()[m];
      if (pg.partial && pg.leaked_refs == 0) return "a table left PGT_partial after the hypercall";
    }
  }
  return {};
}

// The DMA adversary: the device writes every frame it must not reach (a word it already holds,
// so a wrongly allowed write changes no state before it is reported).
std::string dma_adversary(World& w) {
  const xen::Domain& d = w.xen.domain(w.si.domid);
  const bool modern = w.xen.params().generation == xen::XenGeneration::kModern;
  for (const Mfn m : d.pages) {
    const xen::PageInfo& pg = w.xen.frame_table()[m];
    const bool live_pt =
        pg.type != xen::PageType::kWritable && pg.type != xen::PageType::kNone && pg.type_count > 0;
    // Paper-era Xen leaves never-writable frames mapped (XSA-288), as the auditor allows.
    const bool forbidden = (live_pt && (modern || pg.ever_writable)) || pg.dma_revoked;
    if (!forbidden) continue;
    const uint64_t word = w.machine.memory().read_u64(Maddr{m.value << kPageShift});
    if (w.machine.iommu()->dma_u64(kDevice, m.value << kPageShift, true, word).ok) {
      return "DMA adversary: device wrote frame " + std::to_string(m.value) + " (type " +
             std::string(xen::type_name(pg.type)) + ", type count " +
             std::to_string(pg.type_count) + (pg.dma_revoked ? ", pooled" : "") + ")";
    }
  }
  return {};
}

// The auditor's problems, less XSA-288 on paper-era Xen: a given-back frame that a type change
// mapped again and that was then freed stays in the domain's IOMMU (the advisory; the auditor
// reports it, example 11-xsa-288-freed-frame-dma.hvs). Device writes there are not performed
// (in_xsa288_hole), so the hole cannot corrupt what the frame becomes.
std::vector<xen::AuditProblem> audit_problems(const World& w) {
  std::vector<xen::AuditProblem> problems = xen::audit_problems(w.xen);
  if (w.xen.params().generation != xen::XenGeneration::kPaperEra || w.given_back.empty()) {
    return problems;
  }
  std::erase_if(problems, [&](const xen::AuditProblem& p) {
    return p.kind == xen::AuditKind::kIommuMapsUnowned && w.given_back.count(p.frame.value) != 0;
  });
  return problems;
}

// The per-world oracles: auditor, no PGT_partial left behind, the DMA adversary.
std::string check_world(World& w) {
  if (const auto problems = audit_problems(w); !problems.empty()) {
    return w.label + ": auditor: " + problems.front().text + " (" +
           std::to_string(problems.size()) + " problems)";
  }
  if (const std::string left = partial_left(w.xen); !left.empty()) return w.label + ": " + left;
  if (const std::string dma = dma_adversary(w); !dma.empty()) return w.label + ": " + dma;
  return {};
}

// What a step may have changed, so what must be checked after it.
enum class Scope {
  kAll,   // Xen ran: every per-world oracle
  kTlbs,  // only the CPUs' TLBs changed (and the word a guest stored)
  kDma,   // a device access: only the IOTLB (and the word written), Xen takes no part
};

// A guest access that faulted into Xen (writable page-table emulation, or a fault bounced to
// the guest) may have changed anything Xen keeps; one that did not changed the TLBs and the
// word it stored, which the auditor's TLB rule covers: writes can only reach frames through
// translations that rule allows. A device access changes the IOTLB, which only the DMA
// adversary checks (the I/O page tables are Xen's alone).
Scope scope_of(const Op& op, bool entered_xen) {
  switch (op.kind) {
    case Kind::kStore:
    case Kind::kXchg:
    case Kind::kLoad:
      return entered_xen ? Scope::kAll : Scope::kTlbs;
    case Kind::kDmaWrite:
    case Kind::kDmaRead:
      return Scope::kDma;
    case Kind::kModeSwitch:
    case Kind::kTimer:
      // Xen ran, but a mode switch changes only the vCPU's mode and its CPU's CR3 (toggle_guest_pt)
      // and a timer only its deadline: the references and I/O mappings stay as they were.
      return Scope::kTlbs;
    default:
      return Scope::kAll;
  }
}

std::string check_world(World& w, Scope scope) {
  if (scope == Scope::kAll) return check_world(w);
  if (scope == Scope::kDma) {
    const std::string dma = dma_adversary(w);
    return dma.empty() ? dma : w.label + ": " + dma;
  }
  const auto problems = xen::audit_tlb_problems(w.xen);
  return problems.empty() ? std::string{} : w.label + ": auditor: " + problems.front().text;
}

// Did the whole operation fail (so it should have changed nothing)? A mode switch and a timer
// always count as done.
bool refused_whole(const Op& op, const Outcome& o) {
  switch (op.kind) {
    case Kind::kMmuUpdate:
    case Kind::kMmuext:
      return o.rc < 0 && o.done == 0;
    case Kind::kMulticall:
      return !o.sub.empty() &&
             std::all_of(o.sub.begin(), o.sub.end(), [](int64_t r) { return r < 0; });
    case Kind::kMemoryOp:
      return o.rc <= 0;
    case Kind::kModeSwitch:
    case Kind::kTimer:
      return false;
    default:  // update_va_mapping, guest accesses, DMA
      return o.rc < 0;
  }
}

// Did `pol` accept a request that `base` refused?
bool accepted_what_was_refused(const Op& op, const Outcome& base, const Outcome& pol) {
  if (op.kind == Kind::kMulticall) {
    for (std::size_t i = 0; i < base.sub.size() && i < pol.sub.size(); ++i) {
      if (base.sub[i] < 0 && pol.sub[i] == 0) return true;
    }
    return false;
  }
  if (op.kind == Kind::kMemoryOp) return pol.rc > base.rc;  // more extents done
  if (base.rc >= 0) return false;
  if (op.kind == Kind::kMmuUpdate || op.kind == Kind::kMmuext) {
    return pol.rc == 0 || pol.done > base.done;
  }
  return pol.rc == 0;
}

bool uses_pool(const Op& op) {
  for (const auto& o : op.ops) {
    if (is_pool_cmd(o.cmd)) return true;
  }
  for (const auto& e : op.entries) {
    for (const auto& o : e.mmuext_ops) {
      if (is_pool_cmd(o.cmd)) return true;
    }
  }
  return false;
}

bool any_rc(const Outcome& o, int64_t rc) {
  if (o.rc == rc) return true;
  for (int64_t r : o.sub) {
    if (r == rc) return true;
  }
  return false;
}

// An mmu_update (direct or in a multicall) that names a page owner other than the caller.
// Since 4.11 Xen refuses such a request to an L2-L4 table (-EINVAL); paper-era Xen (4.8)
// ignored the owner there and applied the caller's own rules.
bool names_foreign_owner(const Op& op) {
  if (op.kind == Kind::kMmuUpdate) return op.foreigndom != abi::kDomidSelf;
  if (op.kind != Kind::kMulticall) return false;
  return std::any_of(op.entries.begin(), op.entries.end(), [](const abi::MulticallEntry& e) {
    return e.op == abi::HypercallNr::kMmuUpdate && e.foreigndom != abi::kDomidSelf;
  });
}

bool uses_superpage_marks(const Op& op) {
  auto marks = [](const std::vector<abi::MmuextOp>& ops) {
    for (const auto& o : ops) {
      if (o.cmd == abi::kMmuextMarkSuper || o.cmd == abi::kMmuextUnmarkSuper) return true;
    }
    return false;
  };
  if (marks(op.ops)) return true;
  for (const auto& e : op.entries) {
    if (marks(e.mmuext_ops)) return true;
  }
  return false;
}

// Whether two multicall outcomes first differ in an entry after the batch's first mmu_update.
// Modern Xen flushes the TLBs at the end of an mmu_update that changed an L2-L4 entry
// (XSA-286), paper-era Xen does not, so a later update_va_mapping in the same batch may find
// its L1 through a stale linear-page-table translation on paper-era Xen only (xen-pv-mmu.md
// A2; docs/attacks.md, XSA-286). Earlier entries ran before any such flush and must agree.
bool after_first_mmu_update(const Op& op, const Outcome& a, const Outcome& b) {
  if (op.kind != Kind::kMulticall || a.sub.size() != b.sub.size()) return false;
  std::size_t first_update = op.entries.size();
  for (std::size_t i = 0; i < op.entries.size(); ++i) {
    if (op.entries[i].op == abi::HypercallNr::kMmuUpdate) {
      first_update = i;
      break;
    }
  }
  for (std::size_t i = 0; i < a.sub.size(); ++i) {
    if (a.sub[i] != b.sub[i]) return i > first_update;
  }
  return false;  // only the overall rc or done differ: not explained by a flush
}

// One differential pair: a reference configuration and one it is compared with.
struct Pair {
  std::size_t base = 0;
  std::size_t other = 0;
  bool generation = false;  // else a policy against Xen's own validation
  bool diverged = false;
};

}  // namespace

// Every case builds four small machines and frees them again. glibc would give the freed
// heap top and its large blocks back to the kernel each time and fault them in again for the
// next case, which took two thirds of the time: keep them (sanitizer builds bring their own
// allocator, which ignores this).
namespace {
void keep_freed_memory() {
  static const bool once = [] {
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest
    return true;
  }();
  (void)once;
}
}  // namespace

CaseResult run_hypercall_case(std::span<const uint8_t> input, std::ostream* trace) {
  keep_freed_memory();
  CaseResult result;
  if (input.empty()) return result;
  const Header header(input[0]);
  Reader in(input.subspan(1));

  // Every configuration: both generations, each with Xen's validation and every distinct
  // hypervisor side of the policy table.
  std::vector<std::unique_ptr<World>> worlds;
  std::vector<Pair> pairs;
  std::vector<std::size_t> bases;  // Xen's own validation, per generation
  for (const xen::XenGeneration g : {xen::XenGeneration::kPaperEra, xen::XenGeneration::kModern}) {
    const std::size_t base = worlds.size();
    bases.push_back(base);
    const std::string gen(xen::name_of(g));
    worlds.push_back(std::make_unique<World>(gen + "/combined", g, nullptr, header));
    std::vector<std::string> seen{"combined"};
    for (const auto& p : policies::policy_table()) {
      system::GuestSystemConfig cfg;
      p.configure(cfg);
      if (!cfg.delta.xen_validation) continue;
      auto policy = cfg.delta.xen_validation(cfg);
      const std::string name(policy->name());
      if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
      seen.push_back(name);
      pairs.push_back(Pair{base, worlds.size(), false, false});
      worlds.push_back(std::make_unique<World>(gen + "/" + name + " (" + std::string(p.name) + ")",
                                               g, std::move(policy), header));
    }
  }
  pairs.push_back(Pair{bases[0], bases[1], true, false});
  for (const auto& w : worlds) {
    if (w->si.p2m.size() != worlds[0]->si.p2m.size() ||
        w->si.p2m.back() != worlds[0]->si.p2m.back() ||
        w->other.p2m.back() != worlds[0]->other.p2m.back()) {
      result.finding = "configurations " + w->label + " and " + worlds[0]->label +
                       " built different frames: cannot compare";
      return result;
    }
  }

  Decoder decode(in, worlds[0]->xen, worlds[0]->si, worlds[0]->other, header.vcpus);
  std::vector<bool> unchecked(worlds.size(), false);  // refused steps since the last check
  std::vector<Outcome> outcomes(worlds.size());
  std::vector<uint64_t> fast_before(worlds.size());
  std::vector<uint64_t> xsa286_before(worlds.size());
  for (std::size_t step = 0; !in.done() && step < kMaxSteps; ++step) {
    const Op op = decode.next();
    ++result.steps;
    auto fail = [&](const std::string& what) {
      result.finding = "step " + std::to_string(step) + ": " + what;
      return result;
    };
    if (trace != nullptr) *trace << "step " << step << ": " << describe(op) << "\n";
    // The generations' IOMMU mapping disciplines differ for frames that never had a writable
    // type (paper-era maps every frame at populate time, modern only writable ones; A3) and for
    // frames given back (paper-era unmaps at decrease_reservation whatever the type, modern at
    // the last put_page of a writable frame, cleanup_page_mappings).
    bool dma_discipline_differs = false;
    if (op.kind == Kind::kDmaWrite || op.kind == Kind::kDmaRead) {
      const auto& ft = worlds[bases[0]]->xen.frame_table();
      const Mfn m{op.iova >> kPageShift};
      dma_discipline_differs =
          (ft.valid(m) && !ft[m].ever_writable) || worlds[bases[0]]->given_back.count(m.value) != 0;
    }
    for (std::size_t i = 0; i < worlds.size(); ++i) {
      World& w = *worlds[i];
      fast_before[i] = w.ledger.count(sim::Event::kXenModEntryFast);
      xsa286_before[i] = w.ledger.count(sim::Event::kXenTlbFlushMmuUpdate);
      const uint64_t entries_before = w.ledger.count(sim::Event::kXenEntry);
      try {
        outcomes[i] = execute(w, op);
      } catch (const std::exception& e) {
        return fail(w.label + ": exception escaped the hypervisor: " + e.what());
      }
      if (trace != nullptr) *trace << "  " << w.label << ": " << describe(outcomes[i]) << "\n";
      // A step refused whole is checked with the next one checked: whatever it wrongly changed
      // is still there then (the auditor is a third of a step's time).
      // What an earlier refused step was not checked for is checked in full now.
      const Scope scope =
          unchecked[i] ? Scope::kAll
                       : scope_of(op, w.ledger.count(sim::Event::kXenEntry) != entries_before);
      unchecked[i] = refused_whole(op, outcomes[i]);
      if (unchecked[i]) continue;
      if (const std::string found = check_world(w, scope); !found.empty()) return fail(found);
    }
    for (Pair& p : pairs) {
      if (p.diverged) continue;
      const Outcome& a = outcomes[p.base];
      const Outcome& b = outcomes[p.other];
      const World& wa = *worlds[p.base];
      const World& wb = *worlds[p.other];
      const bool paths_differ =
          wa.ledger.count(sim::Event::kXenModEntryFast) - fast_before[p.base] !=
          wb.ledger.count(sim::Event::kXenModEntryFast) - fast_before[p.other];
      const bool flushed_xsa286 =
          wb.ledger.count(sim::Event::kXenTlbFlushMmuUpdate) != xsa286_before[p.other];
      (p.generation ? result.generation_compared : result.policy_compared) += 1;
      if (!(a == b)) {
        const std::string both = wa.label + " " + describe(a) + ", " + wb.label + " " + describe(b);
        if (p.generation) {
          // Spec'd differences: paper-era Xen carries on when an IOMMU update fails (modern
          // fails the type change), its L1 fast path is permissive, it leaves never-writable
          // page tables DMA-writable (XSA-288) and maps never-writable frames for DMA, and
          // modern Xen refuses the superpage marks and L2-L4 updates naming a foreign owner.
          const bool allowed = any_rc(a, kENOMEM) || any_rc(b, kENOMEM) || paths_differ ||
                               a.rc == kXsa288Hole || dma_discipline_differs ||
                               (uses_superpage_marks(op) && any_rc(b, kEOPNOTSUPP)) ||
                               (flushed_xsa286 && after_first_mmu_update(op, a, b)) ||
                               (names_foreign_owner(op) && any_rc(b, kEINVAL));
          if (!allowed) return fail("generations disagree: " + both);
        } else if (accepted_what_was_refused(op, a, b)) {
          // A policy may accept its own pool commands (Xen: -ENOSYS) and what Xen refused only
          // for want of memory for an I/O page table.
          const bool allowed = (uses_pool(op) && any_rc(a, kENOSYS)) || any_rc(a, kENOMEM);
          if (!allowed) return fail("policy accepted what Xen's validation refused: " + both);
        }
        p.diverged = true;  // the histories differ from here on: stop comparing this pair
      } else if (paths_differ) {
        p.diverged = true;
      }
      // Modern Xen flushed the TLBs after an L2-L4 change (XSA-286); paper-era left that to the
      // guest, so from here the CPUs may hold translations one generation dropped.
      if (p.generation && flushed_xsa286) p.diverged = true;
      // Modern Xen refused an L2-L4 update naming a foreign owner before touching anything;
      // paper-era Xen went on as the caller and may have changed state (a child's type, its
      // IOMMU mapping) before refusing for another reason, with the same error.
      if (p.generation && names_foreign_owner(op) && any_rc(b, kEINVAL)) p.diverged = true;
    }
  }
  for (std::size_t i = 0; i < worlds.size(); ++i) {
    if (!unchecked[i]) continue;
    if (const std::string found = check_world(*worlds[i]); !found.empty()) {
      result.finding = "after step " + std::to_string(result.steps - 1) + ": " + found;
      return result;
    }
  }
  return result;
}

}  // namespace pib::fuzz
