// SPDX-License-Identifier: MIT
// Construction, domain management and the guest-execution side of the port (memory accesses,
// kernel/user mode switches, the page-fault entry).
#include "xen/hypervisor.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "common/error.hpp"

namespace pib::xen {

using sim::Event;

std::string_view type_name(PageType t) {
  switch (t) {
    case PageType::kNone:
      return "none";
    case PageType::kL1:
      return "l1";
    case PageType::kL2:
      return "l2";
    case PageType::kL3:
      return "l3";
    case PageType::kL4:
      return "l4";
    case PageType::kSegDesc:
      return "segdesc";
    case PageType::kWritable:
      return "writable";
  }
  return "?";
}

Hypervisor::Hypervisor(hw::Machine& machine, sim::Ledger& ledger, XenParams params)
    : machine_(machine),
      mem_(machine.memory()),
      ledger_(ledger),
      params_(params),
      frames_(machine.memory().frame_count()),
      tlbflush_time_(machine.cpu_count(), 0),
      loaded_(machine.cpu_count()),
      validation_(std::make_unique<CombinedValidation>()) {
  if (params.iommu_superpages == IommuSuperpages::kOn &&
      params.generation != XenGeneration::kModern) {
    throw InputError("IOMMU superpages: paper-era Xen has none (Xen 4.17 added them)");
  }
  // Frame 0 is never handed out (a zero MFN in an entry is a common guest bug worth catching);
  // frame 1 is Xen's own (empty) L3 behind the reserved L4 slots. The rest is free.
  for (uint64_t f = 0; f < 2; ++f) {
    PageInfo& pg = frames_[Mfn{f}];
    pg.owner = kOwnerXen;
    pg.count = 1;
  }
  xen_l3_ = Mfn{1};
  free_frames_.push_range(Mfn{2}, Mfn{mem_.frame_count()});
  for (CpuId c = 0; c < machine.cpu_count(); ++c) machine.cpu(c).set_trap_handler(this);
}

Hypervisor::Hypervisor(const Hypervisor& source, hw::Machine& machine, sim::Ledger& ledger)
    : machine_(machine),
      mem_(machine.memory()),
      ledger_(ledger),
      params_(source.params_),
      frames_(source.frames_.size()) {
  restore(source);
  for (CpuId c = 0; c < machine.cpu_count(); ++c) machine.cpu(c).set_trap_handler(this);
}

void Hypervisor::restore(const Hypervisor& source) {
  if (source.observer_ != nullptr || source.announce_depth_ != 0 || observer_ != nullptr ||
      announce_depth_ != 0) {
    model_bug("hypervisor copy: an interleaving observer is installed or a hypercall is running");
  }
  if (mem_.frame_count() != source.mem_.frame_count() ||
      machine_.cpu_count() != source.machine_.cpu_count()) {
    model_bug("hypervisor copy: the machine is not a copy of the source's");
  }
  params_ = source.params_;
  frames_ = source.frames_;
  m2p_ = source.m2p_;
  free_frames_ = source.free_frames_;
  // Domain records stay where they are (callers may hold them) when the source has as many.
  domains_.resize(source.domains_.size());
  for (std::size_t i = 0; i < domains_.size(); ++i) {
    if (domains_[i]) {
      *domains_[i] = *source.domains_[i];
    } else {
      domains_[i] = std::make_unique<Domain>(*source.domains_[i]);
    }
  }
  port_domain_ = source.port_domain_;
  current_pcpu_ = source.current_pcpu_;
  xen_l3_ = source.xen_l3_;
  tlbflush_clock_ = source.tlbflush_clock_;
  tlbflush_time_ = source.tlbflush_time_;
  loaded_ = source.loaded_;
  validation_ = source.validation_->clone();
  freed_while_running_ = source.freed_while_running_;
  current_vcpu_ = source.current_vcpu_;
}

Hypervisor::~Hypervisor() {
  for (CpuId c = 0; c < machine_.cpu_count(); ++c) machine_.cpu(c).set_trap_handler(nullptr);
}

DomId Hypervisor::create_domain(const DomainConfig& config) {
  if (config.vcpus == 0 || config.vcpus > machine_.cpu_count()) {
    throw InputError("domain: vcpus must be between 1 and the machine's " +
                     std::to_string(machine_.cpu_count()) + " CPUs");
  }
  auto d = std::make_unique<Domain>();
  d->id = static_cast<DomId>(domains_.size());
  d->config = config;
  for (VcpuId v = 0; v < config.vcpus; ++v) {
    Vcpu vcpu;
    vcpu.id = v;
    vcpu.pcpu = v;
    d->vcpus.push_back(vcpu);
  }
  domains_.push_back(std::move(d));
  return domains_.back()->id;
}

Domain& Hypervisor::domain(DomId id) {
  if (id >= domains_.size()) throw InputError("no domain " + std::to_string(id));
  return *domains_[id];
}

const Domain& Hypervisor::domain(DomId id) const {
  if (id >= domains_.size()) throw InputError("no domain " + std::to_string(id));
  return *domains_[id];
}

std::vector<DomId> Hypervisor::domain_ids() const {
  std::vector<DomId> ids;
  for (const auto& d : domains_) ids.push_back(d->id);
  return ids;
}

Mfn Hypervisor::alloc_domheap_page(Domain& d) {
  uint64_t n = 0;
  const Mfn mfn = alloc_domheap_run(d, 1, &n);
  return n == 0 ? kInvalidMfn : mfn;
}

Mfn Hypervisor::alloc_domheap_run(Domain& d, uint64_t max, uint64_t* count) {
  *count = 0;
  if (d.dying || free_frames_.empty() || d.pages.size() >= d.config.max_pages) return kInvalidMfn;
  // populate_physmap tells the IOMMU of each frame, and its I/O page tables come from the same
  // free list: then frames must be taken one at a time to interleave exactly as before.
  const bool per_frame = d.config.iommu != IommuMode::kNone && machine_.iommu() != nullptr;
  const uint64_t want = per_frame ? 1 : std::min(max, d.config.max_pages - d.pages.size());
  const Mfn first = free_frames_.pop_run(want, count);
  flush_before_reuse(first, *count);
  PageInfo pg;
  pg.owner = d.id;
  pg.allocated = true;
  pg.count = 1;
  frames_.fill(first, *count, pg);
  d.pages.append_run(first, *count);
  for (uint64_t i = 0; i < *count && per_frame; ++i) iommu_populate(d, Mfn{first.value + i});
  return first;
}

void Hypervisor::set_m2p_run(Mfn mfn, Pfn pfn, uint64_t count) {
  if (count == 0) return;
  if (mfn.value + count > mem_.frame_count()) throw std::out_of_range("m2p");
  m2p_.set_run(mfn.value, pfn.value, count);
}

Pfn Hypervisor::machine_to_phys(Mfn mfn) const {
  if (mfn.value >= mem_.frame_count()) return kInvalidPfn;
  return Pfn{m2p_.get(mfn.value)};
}

uint64_t Hypervisor::metadata_host_bytes() const {
  return frames_.host_bytes() + (m2p_.run_count() + free_frames_.run_count()) * 24 +
         m2p_.exception_count() * 32;
}

void Hypervisor::set_port_domain(DomId id) {
  Domain& d = domain(id);
  port_domain_ = id;
  for (Vcpu& v : d.vcpus) {
    if (!v.online) continue;
    // context_switch: a CPU already holding this vCPU's state does not switch (no CR3 write).
    const LoadedVcpu& on_cpu = loaded_[v.pcpu];
    if (on_cpu.domain == d.id && on_cpu.vcpu == v.id) continue;
    current_pcpu_ = v.pcpu;
    write_ptbase(v, d);
  }
}

Domain& Hypervisor::port_dom() {
  return domain(port_domain_);
}

Vcpu& Hypervisor::port_vcpu(VcpuId id) {
  Domain& d = port_dom();
  if (id >= d.vcpus.size()) throw InputError("no vcpu " + std::to_string(id));
  current_pcpu_ = d.vcpus[id].pcpu;
  current_vcpu_ = id;
  return d.vcpus[id];
}

Vcpu& Hypervisor::running_vcpu(VcpuId vcpu) {
  Vcpu& v = port_vcpu(vcpu);
  const Domain& d = port_dom();
  if (d.shutdown_reason == abi::kShutdownCrash) [[unlikely]] {
    throw DomainCrashed("domain " + std::to_string(d.id) +
                        " was crashed by Xen (an IOMMU update failed for want of memory for an "
                        "I/O page table): its vCPUs no longer run");
  }
  return v;
}

void Hypervisor::domain_crash(Domain& d) {
  if (!d.shutdown_reason) d.shutdown_reason = abi::kShutdownCrash;
}

void Hypervisor::iommu_update_failed(Domain& d) {
  if (!d.config.privileged) domain_crash(d);
}

hw::MemResult Hypervisor::guest_access(VcpuId vcpu, const hw::MemRequest& request) {
  Vcpu& v = running_vcpu(vcpu);
  hw::MemRequest r = request;
  r.mode = hw::Mode::kUser;  // 64-bit PV: guest kernel and user both run in ring 3
  const hw::MemResult res = machine_.cpu(v.pcpu).access(r);
  do_softirq();  // the interrupt window of the access (and of Xen's return after a trap)
  return res;
}

hw::LoadRun Hypervisor::guest_load_run(VcpuId vcpu, Vaddr va, uint32_t count, uint64_t stop_mask,
                                       uint64_t* out) {
  Vcpu& v = running_vcpu(vcpu);
  const hw::LoadRun run = machine_.cpu(v.pcpu).load_run(va, count, hw::Mode::kUser, stop_mask, out);
  // The softirq check of the last load. Those of the loads before it had nothing to do: the
  // run stops at the first load after which this CPU's timer is pending, all the check tests.
  do_softirq();
  return run;
}

hw::TakeRun Hypervisor::guest_take_run(VcpuId vcpu, Vaddr va, uint32_t count, uint64_t mask,
                                       hw::TakenWord* taken) {
  // With a clock, the timer may become pending between two of the accesses: their softirq
  // checks may have work, so each is made as its own port call.
  if (ledger_.clock_on()) return HypervisorPort::guest_take_run(vcpu, va, count, mask, taken);
  // Without one, every check in between has nothing to do (do_softirq), and each access's
  // port_vcpu selects the same vCPU: the CPU does the run in one call.
  Vcpu& v = running_vcpu(vcpu);
  return machine_.cpu(v.pcpu).take_run(va, count, hw::Mode::kUser, mask, taken);
}

int64_t Hypervisor::switch_guest_mode(VcpuId vcpu, bool to_kernel) {
  hypercall_entry(vcpu);
  // HYPERVISOR_iret is a hypercall: from user mode it is bounced like any other. The syscall
  // entry (to_kernel) is what user mode legitimately does.
  if (!to_kernel && bounce_user_mode_hypercall(vcpu)) return abi::err::kBouncedToGuestKernel;
  const int64_t rc = switch_mode_body(vcpu, to_kernel);
  do_softirq();
  return rc;
}

int64_t Hypervisor::switch_mode_body(VcpuId vcpu, bool to_kernel) {
  Vcpu& v = port_vcpu(vcpu);
  if (!to_kernel && v.guest_table_user == kInvalidMfn) return abi::err::kEINVAL;
  if (v.in_kernel == to_kernel) return abi::err::kOk;
  toggle_guest_pt(v);
  return abi::err::kOk;
}

bool Hypervisor::bounce_user_mode_hypercall(VcpuId vcpu) {
  // lstar_enter (x86_64/entry.S) serves a SYSCALL as a hypercall only when the vCPU is in
  // kernel mode; from user mode it goes to switch_to_kernel, which delivers it to the guest
  // kernel's syscall callback. (INT $0x82 is the 32-bit guests' gate, DPL 1: from ring 3 it is
  // a #GP, also delivered to the guest kernel.)
  Vcpu& v = port_vcpu(vcpu);
  if (v.in_kernel) return false;
  ledger_.charge(Event::kXenHypercallFromUser);
  toggle_guest_pt(v);
  do_softirq();
  return true;
}

std::optional<hw::MemResult> Hypervisor::on_page_fault(hw::Cpu& cpu, const hw::PageFault& fault,
                                                       const hw::MemRequest& request) {
  current_pcpu_ = cpu.id();
  do_softirq();  // an interrupt that arrived before the fault was taken in guest time
  ledger_.charge(Event::kXenEntry);
  Domain& d = port_dom();
  Vcpu* faulting = nullptr;
  for (Vcpu& v : d.vcpus) {
    if (v.pcpu == cpu.id()) faulting = &v;
  }
  if (faulting != nullptr) {
    // Writes by the guest kernel to a read-only mapping may be writes to a validated L1 table:
    // Xen emulates those (writable page tables); anything else goes back to the guest.
    const bool write_protection = (fault.error_code & hw::pf_bits::kProtection) &&
                                  (fault.error_code & hw::pf_bits::kWrite) &&
                                  !(fault.error_code & hw::pf_bits::kReserved);
    if (write_protection && faulting->in_kernel) {
      if (auto done = ptwr_emulate(*faulting, d, fault, request)) return done;
    }
  }
  ledger_.charge(Event::kXenFaultBounced);
  // The bounce frame is delivered to the guest kernel: a fault taken in guest user mode switches
  // the vCPU to its kernel root table first (toggle_guest_mode), as for any exception.
  if (faulting != nullptr && !faulting->in_kernel) toggle_guest_pt(*faulting);
  return std::nullopt;
}

}  // namespace pib::xen

namespace pib::xen {

void Hypervisor::set_validation_policy(std::unique_ptr<ValidationPolicy> policy) {
  if (!domains_.empty()) model_bug("a validation policy is installed before any domain exists");
  validation_ = std::move(policy);
}

}  // namespace pib::xen
