// SPDX-License-Identifier: MIT
// TLB maintenance and the TLB clock (flushtlb.c): every full flush advances the clock and stamps
// the CPUs it reached; a frame's timestamp records when its last typed use ended, so a CPU whose
// stamp is newer cannot hold translations from that use (tlbflush_filter / NEED_FLUSH).
#include "xen/hypervisor.hpp"

namespace pib::xen {

using sim::Event;

uint64_t Hypervisor::filter_by_timestamp(uint64_t cpumask, uint64_t page_stamp) const {
  uint64_t out = 0;
  for (CpuId c = 0; c < tlbflush_time_.size(); ++c) {
    const uint64_t bit = uint64_t{1} << c;
    if ((cpumask & bit) && tlbflush_time_[c] <= page_stamp) out |= bit;
  }
  return out;
}

void Hypervisor::flush_mask(uint64_t cpumask) {
  if (cpumask == 0) return;
  const uint64_t stamp = ++tlbflush_clock_;
  for (CpuId c = 0; c < tlbflush_time_.size(); ++c) {
    if (!(cpumask & (uint64_t{1} << c))) continue;
    ledger_.charge(c == current_pcpu_ ? Event::kXenTlbFlushLocal : Event::kXenTlbFlushRemote);
    machine_.cpu(c).mmu().tlb().flush_all();
    tlbflush_time_[c] = stamp;
  }
}

void Hypervisor::invlpg_mask(uint64_t cpumask, Vaddr va) {
  for (CpuId c = 0; c < tlbflush_time_.size(); ++c) {
    if (!(cpumask & (uint64_t{1} << c))) continue;
    ledger_.charge(c == current_pcpu_ ? Event::kXenInvlpgLocal : Event::kXenInvlpgRemote);
    machine_.cpu(c).mmu().tlb().invlpg(va);
  }
}

void Hypervisor::write_ptbase(Vcpu& v, Domain& d) {
  // Without PCIDs Xen's CR3 switch also drops global entries (CR4.PGE toggle), and counts as a
  // flush for the TLB clock.
  const Mfn root = v.in_kernel ? v.guest_table : v.guest_table_user;
  const uint64_t stamp = ++tlbflush_clock_;
  const uint64_t bit = uint64_t{1} << v.pcpu;
  machine_.cpu(v.pcpu).mmu().load_cr3(root, true);
  tlbflush_time_[v.pcpu] = stamp;
  d.dirty_cpumask |= bit;
  v.online = true;
  // __context_switch (domain.c): once the next domain's state is loaded, the CPU leaves the
  // previous domain's dirty_cpumask; that domain's translations went with the flush above, so
  // its type changes and flush requests need not reach this CPU any more.
  LoadedVcpu& on_cpu = loaded_[v.pcpu];
  if (on_cpu.domain != d.id && on_cpu.domain < domains_.size()) {
    domains_[on_cpu.domain]->dirty_cpumask &= ~bit;
  }
  on_cpu = LoadedVcpu{d.id, v.id};
}

void Hypervisor::toggle_guest_pt(Vcpu& v) {
  // _toggle_guest_pt (pv/domain.c): the kernel<->user switch is a plain CR3 write. Global
  // (user) entries survive, non-global ones go (no PCIDs), and the TLB clock neither ticks nor
  // stamps the CPU: this is no flush as far as type changes are concerned.
  v.in_kernel = !v.in_kernel;
  const Mfn root = v.in_kernel ? v.guest_table : v.guest_table_user;
  machine_.cpu(v.pcpu).mmu().load_cr3(root, false);
}

uint64_t Hypervisor::vcpumask_to_pcpus(const Domain& d, uint64_t vcpumask) const {
  uint64_t out = 0;
  for (const Vcpu& v : d.vcpus) {
    if (v.online && (vcpumask & (uint64_t{1} << v.id))) out |= uint64_t{1} << v.pcpu;
  }
  return out;
}

}  // namespace pib::xen
