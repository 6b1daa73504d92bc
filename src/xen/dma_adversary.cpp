// SPDX-License-Identifier: MIT
#include "xen/dma_adversary.hpp"

#include <cstdio>

#include "hw/dma_devices.hpp"
#include "xen/hypervisor.hpp"

namespace pib::xen {

namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

// A page table in use or being validated: what a device must never write.
bool live_table(const PageInfo& pg) {
  return is_pt_type(pg.type) && pg.type_count > 0;
}

// Paper-era Xen leaves frames that were never writable in the IOMMU whatever their type
// (XSA-288): Xen's own hole, which the hypervisor auditor exempts too.
bool xsa288_exempt(const Hypervisor& xen, const PageInfo& pg) {
  return !xsa288_fixed(xen.params()) && !pg.ever_writable;
}

std::string describe(const PageInfo& pg) {
  return std::string(type_name(pg.type)) + " frame (type count " + std::to_string(pg.type_count) +
         (pg.validated ? ", validated)" : ", under validation)");
}

}  // namespace

void DmaAdversary::note(const InterleavingPoint& p, const std::string& what) {
  ++violations_;
  if (findings_.size() >= params_.keep) return;
  findings_.push_back("at " + std::string(name_of(p.step)) + " of vcpu" + std::to_string(p.vcpu) +
                      (p.mfn != kInvalidMfn ? " (mfn " + hex(p.mfn.value) + ")" : "") + ": " +
                      what);
}

void DmaAdversary::attack(Hypervisor& xen, const InterleavingPoint& p, Mfn target) {
  hw::Iommu* iommu = xen.machine().iommu();
  if (iommu == nullptr || !iommu->translates(params_.device)) return;
  const uint64_t iova = (target.value << kPageShift) + params_.entry * 8;
  const uint64_t value = params_.payload.value_or(xen.machine().memory().read_u64(Maddr{iova}));
  ++attempted_;
  hw::DeviceClockScope on_device(xen.ledger(), params_.clock);
  const hw::DmaResult r = iommu->dma_u64(params_.device, iova, true, value);
  if (!r.ok) return;
  ++landed_;
  note(p, "device write landed in " + describe(xen.frame_table()[*r.mfn]) + " " +
              hex(r.mfn->value) + " at entry " + std::to_string(params_.entry));
}

void DmaAdversary::at(Hypervisor& xen, const InterleavingPoint& p) {
  if (params_.mode != DmaAdversaryMode::kOff && !busy_) {
    busy_ = true;
    ++points_;
    const FrameTable& ft = xen.frame_table();
    std::vector<Mfn> targets;
    // Through the IOTLB as cached.
    if (const hw::Iommu* iommu = xen.machine().iommu(); iommu != nullptr) {
      for (const auto& t : iommu->cached_translations()) {
        if ((t.leaf & hw::iopte::kWrite) == 0) continue;
        // A superpage entry reaches every frame of its block.
        const uint64_t first = ((t.leaf & hw::iopte::kAddrMask) >> kPageShift) & ~(t.pages - 1);
        for (uint64_t f = first; f < first + t.pages; ++f) {
          const Mfn m{f};
          if (!ft.valid(m)) continue;
          const PageInfo& pg = ft[m];
          auto entry = [&] {
            return "IOTLB entry of domain " + std::to_string(t.domain) + " for " +
                   hex(t.iova_page + (f - first));
          };
          if (pg.owner != t.domain) {
            note(p, entry() + " writes frame " + hex(m.value) + ", which the domain does not own");
          } else if (live_table(pg) && !xsa288_exempt(xen, pg)) {
            note(p, entry() + " writes " + describe(pg) + " " + hex(m.value));
            if (pg.validated) targets.push_back(m);
          }
        }
      }
    }
    // Through the I/O page tables: the frame this step concerns (a frame's type or I/O entry
    // changes only at a step naming it, so checking it here covers every frame by induction).
    if (p.mfn != kInvalidMfn && ft.valid(p.mfn)) {
      const PageInfo& pg = ft[p.mfn];
      if (live_table(pg) && !xsa288_exempt(xen, pg) && pg.owner < xen.domain_ids().size()) {
        const Domain& d = xen.domain(pg.owner);
        if ((xen.iommu_entry(d, p.mfn) & hw::iopte::kWrite) != 0) {
          note(p, "I/O page table of domain " + std::to_string(d.id) + " maps " + describe(pg) +
                      " " + hex(p.mfn.value) + " writable");
        }
        if (pg.validated) targets.push_back(p.mfn);
      }
    }
    if (params_.mode == DmaAdversaryMode::kAttack) {
      for (const Mfn m : targets) attack(xen, p, m);
    }
    busy_ = false;
  }
  if (next_ != nullptr) next_->at(xen, p);
}

std::string DmaAdversary::summary() const {
  if (violations_ == 0) return "";
  std::string s = "DMA adversary (" + std::string(name_of(params_.mode)) +
                  "): " + std::to_string(violations_) + " violations at " +
                  std::to_string(points_) + " interleaving points";
  if (attempted_ != 0) {
    s += ", " + std::to_string(landed_) + " of " + std::to_string(attempted_) +
         " device writes into page tables landed";
  }
  if (!findings_.empty()) s += "; first: " + findings_.front();
  return s;
}

}  // namespace pib::xen
