// SPDX-License-Identifier: MIT
#include "world.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <optional>
#include <stdexcept>

#include "hw/iommu.hpp"
#include "policies/policy_table.hpp"
#include "xen/domain_builder.hpp"

namespace pib::fuzz {

namespace {

// Every event costs the same: the clock only has to move so that timers fire and preempt
// hypercalls (continuations), not to model time.
constexpr double kUnitNs = 40.0;

// FNV-1a over 64-bit words.
class Digest {
 public:
  void add(uint64_t v) { h_ = (h_ ^ v) * 0x100000001b3ULL; }
  void add(double v) { add(std::bit_cast<uint64_t>(v)); }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

void add_page_info(Digest& h, Mfn m, const xen::PageInfo& pg) {
  if (pg == xen::PageInfo{}) return;
  h.add(m.value);
  h.add(uint64_t{pg.owner});
  h.add(uint64_t{pg.allocated} | uint64_t{pg.validated} << 1 | uint64_t{pg.pinned} << 2 |
        uint64_t{pg.ever_writable} << 3 | uint64_t{pg.dma_revoked} << 4 |
        uint64_t{pg.dma_revoke_pending} << 5 | uint64_t{pg.partial} << 6 |
        uint64_t{pg.partial_entry} << 7);
  h.add(uint64_t{pg.count} << 32 | pg.type_count);
  h.add(static_cast<uint64_t>(pg.type));
  h.add(pg.tlbflush_timestamp);
  h.add(static_cast<uint64_t>(static_cast<int64_t>(pg.linear_pt_count)));
  h.add(uint64_t{pg.nr_validated} << 16 | pg.leaked_refs);
}

void add_domain(Digest& h, const xen::Domain& d) {
  h.add(uint64_t{d.id});
  for (const xen::Vcpu& v : d.vcpus) {
    h.add(v.guest_table.value);
    h.add(v.guest_table_user.value);
    h.add(uint64_t{v.in_kernel} | uint64_t{v.online} << 1 |
          uint64_t{v.old_guest_table_partial} << 2 | uint64_t{v.old_guest_table.has_value()} << 3);
    h.add(v.old_guest_table.value_or(kInvalidMfn).value);
    h.add(v.singleshot_deadline);
    h.add(uint64_t{v.pending_virqs});
  }
  for (const Mfn m : d.pages) h.add(m.value);
  h.add(d.nr_l4_pages);
  h.add(d.dirty_cpumask);
  h.add(d.iommu_root.value);
  for (const uint16_t dev : d.devices) h.add(uint64_t{dev});
  h.add(uint64_t{d.dying} | uint64_t{d.shutdown_reason.has_value()} << 1);
}

// The superpage-block shape's block: populate_physmap gives the domain single frames until the
// top of the model's free stack is 2 MiB-aligned (it has no buddy allocator), then one order-9
// extent there, after the toolstack raised the domain's maximum (XEN_DOMCTL_max_mem). A single
// that opens a new block brings that block's level-1 I/O table in right behind it.
Mfn populate_block(World& w) {
  xen::Domain& d = w.xen.domain(w.si.domid);
  d.config.max_pages += w.machine.memory().frame_count();
  uint64_t gpfn = w.si.nr_pages;
  const auto populate = [&](uint32_t order) {
    abi::MemoryReservation r{.extent_start = {gpfn}, .extent_order = order};
    if (w.xen.memory_op(0, abi::kXenmemPopulatePhysmap, r) != 1) {
      throw std::logic_error("fuzz world: populate_physmap of the block failed");
    }
    gpfn += uint64_t{1} << order;
    return r.extent_start.front();
  };
  std::vector<uint64_t> singles;
  for (;;) {
    const uint64_t tables = w.ledger.count(sim::Event::kHwIommuPtAlloc);
    singles.push_back(populate(0));
    const uint64_t next =
        singles.back() + 1 + (w.ledger.count(sim::Event::kHwIommuPtAlloc) - tables);
    if (next % kBlockFrames == 0) break;
  }
  const Mfn block{populate(9)};
  if (block.value % kBlockFrames != 0) throw std::logic_error("fuzz world: block not aligned");
  // The singles go back (a balloon driver's decrease_reservation): the auditor walks every frame
  // the domain holds after every step, and they would add half as many again.
  for (const uint64_t mfn : singles) {
    abi::MemoryReservation r{.extent_start = {mfn}};
    if (w.xen.memory_op(0, abi::kXenmemDecreaseReservation, r) != 1) {
      throw std::logic_error("fuzz world: giving back a single frame failed");
    }
    w.given_back.mark(mfn);
  }
  return block;
}

Outcome fault_or_ok(bool ok, uint64_t value) {
  return Outcome{.rc = ok ? 0 : abi::err::kEFAULT, .done = 0, .sub = {}, .value = ok ? value : 0};
}

}  // namespace

World::World(std::string name, xen::XenGeneration g, std::unique_ptr<xen::ValidationPolicy> policy,
             const Header& h)
    : label(std::move(name)),
      machine(hw::MachineParams{.frames = h.superpage_block ? kBlockMachineFrames : kMachineFrames,
                                .cpus = 2,
                                .tlb = {},
                                .iommu = hw::IommuParams{.caching_mode = h.caching_mode}},
              ledger),
      xen(machine, ledger, xen::XenParams{.generation = g, .pv_linear_pt = h.linear_pt}),
      given_back(machine.memory().frame_count()) {
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
  if (h.superpage_block) block = populate_block(*this);
  xen.assign_device(si.domid, kDevice);
  std::array<double, sim::kEventCount> unit{};
  unit.fill(kUnitNs);
  ledger.set_clock(unit);
}

World::World(const World& snapshot)
    : label(snapshot.label),
      ledger(snapshot.ledger),
      machine(snapshot.machine, ledger),
      xen(snapshot.xen, machine, ledger),
      si(snapshot.si),
      other(snapshot.other),
      block(snapshot.block),
      given_back(snapshot.given_back),
      audit(snapshot.audit, xen) {}

void World::restore(const World& snapshot) {
  label = snapshot.label;
  ledger = snapshot.ledger;
  machine.restore(snapshot.machine);
  xen.restore(snapshot.xen);
  si = snapshot.si;
  other = snapshot.other;
  block = snapshot.block;
  given_back = snapshot.given_back;
  audit.restore(snapshot.audit);  // last: restoring the others wrote into its logs
}

bool in_xsa288_hole(const World& w, uint64_t iova) {
  if (w.xen.params().generation != xen::XenGeneration::kPaperEra) return false;
  const Mfn m{iova >> kPageShift};
  if (!w.xen.frame_table().valid(m)) return false;
  const xen::PageInfo& pg = w.xen.frame_table()[m];
  // The advisory's other half: a frame given back, mapped again on a type change to writable
  // and then freed stays in the IOMMU (no cleanup_page_mappings before 4.12).
  if (w.given_back.marked(m.value) && pg.owner != w.si.domid) return true;
  const bool live_pt =
      pg.type != xen::PageType::kWritable && pg.type != xen::PageType::kNone && pg.type_count > 0;
  return pg.owner == w.si.domid && live_pt && !pg.ever_writable && !pg.dma_revoked;
}

Outcome execute(World& w, const Op& op) {
  auto& x = w.xen;
  Outcome out;
  const bool device = op.kind == Kind::kDmaWrite || op.kind == Kind::kDmaRead;
  if (!device && x.domain(w.si.domid).shutdown_reason == abi::kShutdownCrash) {
    out.rc = kDomainCrashed;
    return out;
  }
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
          for (uint64_t f = 0; f < frames && first + f < w.machine.memory().frame_count(); ++f) {
            w.given_back.mark(first + f);
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

uint64_t state_digest(const World& w) {
  Digest h;
  for (const uint64_t c : w.ledger.counts()) h.add(c);
  for (const auto& cpu_counts : w.ledger.per_cpu()) {
    for (const uint64_t c : cpu_counts) h.add(c);
  }
  const hw::MachineMemory& mem = w.machine.memory();
  const xen::FrameTable& ft = w.xen.frame_table();
  for (uint64_t f = 0; f < mem.frame_count(); ++f) {
    const Mfn m{f};
    add_page_info(h, m, ft[m]);
    // Zeros whether backed or not (backing is storage, not state).
    const uint64_t* words = mem.frame_words(m);
    if (words == nullptr ||
        std::all_of(words, words + kEntriesPerTable, [](uint64_t v) { return v == 0; }))
      continue;
    h.add(f);
    for (uint64_t i = 0; i < kEntriesPerTable; ++i) h.add(words[i]);
  }
  for (const DomId id : w.xen.domain_ids()) add_domain(h, w.xen.domain(id));
  for (CpuId c = 0; c < w.machine.cpu_count(); ++c) {
    const hw::Cpu& cpu = w.machine.cpu(c);
    h.add(w.ledger.clock_ns(c));
    h.add(cpu.mmu().cr3().value);
    h.add(uint64_t{w.xen.loaded_domain(c)});
    h.add(w.xen.tlbflush_time(c));
    for (const hw::TlbEntry& e : cpu.mmu().tlb().valid_entries()) {
      h.add(e.vpn);
      h.add(e.mfn.value);
      h.add(uint64_t{e.writable} | uint64_t{e.user} << 1 | uint64_t{e.executable} << 2 |
            uint64_t{e.global} << 3 | uint64_t{e.dirty} << 4);
    }
  }
  h.add(w.xen.tlbflush_clock());
  w.given_back.for_each([&](uint64_t g) { h.add(g); });
  return h.value();
}

Configurations build_configurations(const Header& header) {
  Configurations c;
  for (const xen::XenGeneration g : {xen::XenGeneration::kPaperEra, xen::XenGeneration::kModern}) {
    const std::size_t base = c.worlds.size();
    c.bases.push_back(base);
    const std::string gen(xen::name_of(g));
    c.worlds.push_back(std::make_unique<World>(gen + "/combined", g, nullptr, header));
    std::vector<std::string> seen{"combined"};
    for (const auto& p : policies::policy_table()) {
      system::GuestSystemConfig cfg;
      p.configure(cfg);
      if (!cfg.delta.xen_validation) continue;
      auto policy = cfg.delta.xen_validation(cfg);
      const std::string name(policy->name());
      if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
      seen.push_back(name);
      c.pairs.push_back(Pair{base, c.worlds.size(), false, false});
      c.worlds.push_back(std::make_unique<World>(
          gen + "/" + name + " (" + std::string(p.name) + ")", g, std::move(policy), header));
    }
  }
  c.pairs.push_back(Pair{c.bases[0], c.bases[1], true, false});
  const World& first = *c.worlds[0];
  for (const auto& w : c.worlds) {
    if (w->si.p2m.size() != first.si.p2m.size() || w->si.p2m.back() != first.si.p2m.back() ||
        w->other.p2m.back() != first.other.p2m.back() || w->block != first.block) {
      c.problem = "configurations " + w->label + " and " + first.label +
                  " built different frames: cannot compare";
      break;
    }
  }
  return c;
}

Configurations& configurations_for(uint8_t header, bool fresh) {
  if (fresh) {
    static std::optional<Configurations> built;
    built.reset();  // (first: two sets of six machines need not coexist)
    built = build_configurations(Header(header));
    return *built;
  }
  // Kept for the life of the process: the snapshot is never run, only restored from.
  struct Kept {
    Configurations snapshot;
    Configurations working;
  };
  static std::array<std::optional<Kept>, Header::kShapes> kept;
  std::optional<Kept>& k = kept[Header::shape_of(header)];
  if (!k) {
    k.emplace();
    k->snapshot = build_configurations(Header(header));
    // Audited once, so that each copy's auditor starts from the built state's verdict.
    for (const auto& w : k->snapshot.worlds) w->audit.clean();
    for (const auto& w : k->snapshot.worlds)
      k->working.worlds.push_back(std::make_unique<World>(*w));
  } else {
    for (std::size_t i = 0; i < k->working.worlds.size(); ++i) {
      k->working.worlds[i]->restore(*k->snapshot.worlds[i]);
    }
  }
  k->working.pairs = k->snapshot.pairs;
  k->working.bases = k->snapshot.bases;
  k->working.problem = k->snapshot.problem;
  return k->working;
}

}  // namespace pib::fuzz
