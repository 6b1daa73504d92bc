// SPDX-License-Identifier: MIT
// Domain teardown, in the order of Xen 4.17's domain_relinquish_resources: the validation
// policy's pending work, the devices (pci_release_devices: their contexts go, and the domain's
// IOTLB entries with them), the I/O page tables (iommu_free_pgtables), the vCPUs' root tables
// (vcpu_destroy_pagetables), then the pins and the allocation references of every page and the
// forced devalidation of what tables are left (relinquish_memory), which frees them. Not
// preemptible in the model.
#include "common/error.hpp"
#include "xen/hypervisor.hpp"

namespace pib::xen {

void Hypervisor::destroy_domain(DomId id) {
  Domain& d = domain(id);
  if (d.dying) return;
  d.dying = true;
  validation_->domain_teardown(*this, d);

  if (hw::Iommu* iommu = machine_.iommu(); iommu != nullptr && d.iommu_root != kInvalidMfn) {
    for (const uint16_t device : d.devices) iommu->clear_context(device);
    d.devices.clear();
    iommu_flush_domain(d);
    // The I/O tables, leaves first: back to Xen's heap.
    std::vector<std::pair<Mfn, unsigned>> todo{{d.iommu_root, 4}};
    d.iommu_root = kInvalidMfn;
    while (!todo.empty()) {
      const auto [table, level] = todo.back();
      todo.pop_back();
      for (uint64_t i = 0; i < kEntriesPerTable && level > 1; ++i) {
        const uint64_t e = mem_.read_entry(table, i);
        if ((e & (hw::iopte::kRead | hw::iopte::kWrite)) == 0) continue;
        if ((e & hw::iopte::kSuperpage) != 0) continue;  // a superpage maps, it is no table
        todo.emplace_back(Mfn{(e & hw::iopte::kAddrMask) >> kPageShift}, level - 1);
      }
      mem_.zero_frame(table);
      frames_[table] = PageInfo{};
      free_frames_.push(table);
    }
  }

  auto drop_root = [&](Mfn& root) {
    if (root == kInvalidMfn) return;
    const Mfn m = root;
    root = kInvalidMfn;
    put_page_and_type(m, d);
  };
  for (Vcpu& v : d.vcpus) {
    current_pcpu_ = v.pcpu;
    current_vcpu_ = v.id;
    put_old_guest_table(v, d, false);  // a deferred put, possibly of a partial table
    drop_root(v.guest_table);
    drop_root(v.guest_table_user);
    v.online = false;
  }
  // No CPU may keep a translation into frames that are about to be free.
  flush_mask(d.dirty_cpumask);
  d.dirty_cpumask = 0;
  for (LoadedVcpu& on_cpu : loaded_) {
    if (on_cpu.domain == d.id) on_cpu = LoadedVcpu{};  // its vCPUs are gone
  }

  for (const Mfn m : d.pages) {
    PageInfo& pg = frames_[m];
    if (pg.owner != d.id || !pg.pinned) continue;
    pg.pinned = false;
    put_page_and_type(m, d);  // may devalidate (and so release) a whole tree
  }
  // relinquish_memory: the allocation references go.
  for (const Mfn m : d.pages) {
    PageInfo& pg = frames_[m];
    if (pg.owner != d.id || !pg.allocated) continue;
    pg.allocated = false;
    put_page(m);
  }
  // Then its passes for L4, L3 and L2 tables: one still validated or partial (nothing of the
  // dead domain uses it any more: a cycle of linear mappings, or a partial table whose holder
  // Xen dropped) is devalidated by force, which releases what its entries reference; a
  // partial one also gives back its state's type count and general reference.
  for (const PageType type : {PageType::kL4, PageType::kL3, PageType::kL2}) {
    for (const Mfn m : d.pages) {
      PageInfo& pg = frames_[m];
      if (pg.owner != d.id || pg.type != type || !(pg.validated || pg.partial)) continue;
      const bool was_partial = pg.partial;
      pg.validated = false;
      pg.partial = false;
      devalidate_table(m, type, d, /*preemptible=*/false, was_partial);
      if (was_partial) {
        PageInfo& p = frames_[m];  // (looked up again: the devalidation may compact)
        p.nr_validated = 0;
        p.partial_entry = false;
        --p.type_count;
        put_page(m);
      }
    }
  }
  // A frame still referenced from outside the domain's own tables stays the dying domain's
  // until the last of those references goes, as in Xen (a zombie domain): a control domain's
  // foreign mapping, or a reference Xen leaked (xen.ref_leaked). Those frames stay on its list
  // for the auditor.
  RunList<Mfn> kept;
  for (const Mfn m : d.pages) {
    if (frames_[m].owner == d.id && frames_[m].count > 0) kept.push_back(m);
  }
  d.pages = std::move(kept);
  if (announce_depth_ == 0) frames_.compact();  // (an interrupted hypercall may hold references)
}

}  // namespace pib::xen
