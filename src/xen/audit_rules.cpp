// SPDX-License-Identifier: MIT
#include "xen/audit_rules.hpp"

#include <algorithm>
#include <cstdio>

#include "hw/iommu.hpp"
#include "xen/pt_flags.hpp"

namespace pib::xen::audit_detail {

using hw::Pte;
using namespace hw::pte_bits;

namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

// The first index in [from, end) whose word has a bit of `mask`, or end. Mostly-empty tables
// are the common case, so whole cache lines of words are tested at once.
uint64_t next_with(const uint64_t* words, uint64_t from, uint64_t end, uint64_t mask) {
  constexpr uint64_t kLine = 8;  // words per 64-byte line
  while (from < end && from % kLine != 0) {
    if (words[from] & mask) return from;
    ++from;
  }
  while (from + kLine <= end) {
    uint64_t any = 0;
    for (uint64_t k = 0; k < kLine; ++k) any |= words[from + k];
    if (any & mask) break;
    from += kLine;
  }
  while (from < end && (words[from] & mask) == 0) ++from;
  return from;
}

uint64_t next_present(const uint64_t* words, uint64_t from, uint64_t end) {
  return next_with(words, from, end, kPresent);
}

// A root reference: a general and a typed one.
Ref root_ref(Mfn m) {
  return Ref{m, Expected{1, 1, 0}};
}

}  // namespace

void IoMap::add(uint64_t first, uint64_t frames, uint64_t entry) {
  if (!runs_.empty()) {
    Run& last = runs_.back();
    if (last.first + last.frames == first && last.entry + (last.frames << kPageShift) == entry) {
      last.frames += frames;
      return;
    }
  }
  runs_.push_back(Run{first, frames, entry});
}

uint64_t IoMap::entry(Mfn dfn) const {
  const uint64_t v = dfn.value;
  const bool cursor_fits = cursor_ < runs_.size() && runs_[cursor_].first <= v &&
                           (cursor_ + 1 == runs_.size() || v < runs_[cursor_ + 1].first);
  if (!cursor_fits) {
    const auto after = std::upper_bound(runs_.begin(), runs_.end(), v,
                                        [](uint64_t x, const Run& r) { return x < r.first; });
    if (after == runs_.begin()) return 0;
    cursor_ = static_cast<std::size_t>(after - runs_.begin()) - 1;
  }
  const Run& r = runs_[cursor_];
  return v < r.first + r.frames ? r.entry + ((v - r.first) << kPageShift) : 0;
}

AuditRules::AuditRules(const Hypervisor& xen, std::vector<AuditProblem>& problems)
    : xen_(xen),
      ft_(xen.frame_table()),
      domain_count_(xen.domain_ids().size()),
      xsa288_fixed_(xsa288_fixed(xen.params())),
      problems_(problems) {
  for (DomId id : xen.domain_ids()) {
    control_domain_ = control_domain_ || xen.domain(id).config.privileged;
  }
}

void AuditRules::vcpu_refs(const Domain& d, std::vector<Ref>& out) const {
  for (const Vcpu& v : d.vcpus) {
    if (v.guest_table != kInvalidMfn) out.push_back(root_ref(v.guest_table));
    if (v.guest_table_user != kInvalidMfn) out.push_back(root_ref(v.guest_table_user));
    if (!v.old_guest_table) continue;
    // A partial old_guest_table holds a general reference only (its state has the type count).
    out.push_back(v.old_guest_table_partial ? Ref{*v.old_guest_table, Expected{1, 0, 0}}
                                            : root_ref(*v.old_guest_table));
  }
}

void AuditRules::frame_refs(const Domain& d, Mfn m, const PageInfo& pg, std::vector<Ref>& out) {
  // The allocation reference (PGC_allocated) is added when comparing, so that only pinned
  // frames need an entry here.
  if (pg.pinned) out.push_back(root_ref(m));
  if (!is_pt_type(pg.type)) return;
  if (pg.partial) {
    // PGT_partial: the state owns the type count of 1 and a general reference; only the
    // entries whose references it still holds are checked, and a partial child's entry holds a
    // general reference alone.
    out.push_back(root_ref(m));
    audit_table(d, m, level_of(pg.type), pg.nr_validated, out);
    if (!pg.partial_entry) return;
    // (The child may have been validated since by another acquisition, which took its partial
    // type count over: the entry's general reference is all it holds either way.)
    const Pte e{xen_.machine().memory().read_entry(m, pg.nr_validated)};
    if (e.present() && ft_.valid(e.mfn())) {
      out.push_back(Ref{e.mfn(), Expected{1, 0, 0}});
    } else {
      fail("dom" + std::to_string(d.id) + " partial " + hex(m.value) + "[" +
           std::to_string(pg.nr_validated) + "]: no child there");
    }
    return;
  }
  if (pg.validated) audit_table(d, m, level_of(pg.type), kEntriesPerTable, out);
}

void AuditRules::compare_frame(const Domain& d, Mfn m, const PageInfo& pg, Expected found) {
  if (pg.allocated) ++found.count;
  found.count += pg.leaked_refs;  // no holder to find: Xen's own path left them (xen.ref_leaked)
  // Named only when something is wrong: the fuzzer audits after every step.
  const auto at = [&] { return "dom" + std::to_string(d.id) + " mfn " + hex(m.value); };
  if (pg.count != found.count) {
    fail(at() + ": general count " + std::to_string(pg.count) + ", references found " +
         std::to_string(found.count));
  }
  if (pg.type_count != found.type_count) {
    fail(at() + " (" + std::string(type_name(pg.type)) + "): type count " +
         std::to_string(pg.type_count) + ", typed references found " +
         std::to_string(found.type_count));
  }
  if (pg.linear_pt_count != found.linear) {
    fail(at() + ": linear_pt_count " + std::to_string(pg.linear_pt_count) + ", expected " +
         std::to_string(found.linear));
  }
  if (pg.type_count == 0 && (pg.validated && is_pt_type(pg.type))) {
    fail(at() + ": validated page table with no type references");
  }
  if (pg.type_count == 0 && pg.pinned) fail(at() + ": pinned with no type references");
  if (pg.type_count > 0 && !pg.validated && !pg.partial) {
    fail(at() + ": typed in use but not validated");
  }
  if (pg.partial && (pg.type_count != 1 || !is_pt_type(pg.type) || pg.validated)) {
    fail(at() + ": PGT_partial with type count " + std::to_string(pg.type_count));
  }
}

void AuditRules::compare_l4_total(const Domain& d, uint64_t validated_l4) {
  if (validated_l4 != d.nr_l4_pages) {
    fail("dom" + std::to_string(d.id) + ": nr_l4_pages " + std::to_string(d.nr_l4_pages) +
         ", validated L4 tables " + std::to_string(validated_l4));
  }
}

// Entries [0, end) of a table holding their references (all of a validated table).
void AuditRules::audit_table(const Domain& d, Mfn table, unsigned level, uint64_t end,
                             std::vector<Ref>& out) {
  // The auditor writes no guest memory, so the frame's words stay put while it reads them;
  // non-present entries are skipped by a scan of the words alone, and Xen's L4 slots are
  // checked apart.
  const uint64_t* words = xen_.machine().memory().frame_words(table);  // nullptr: all zero
  if (level == 4 && end == kEntriesPerTable) {
    for (uint64_t i = 0; i < kEntriesPerTable; ++i) {
      if (!is_guest_l4_slot(i)) audit_xen_slot(d, table, i, words ? words[i] : 0);
    }
  }
  if (words == nullptr) return;
  for (uint64_t i = next_present(words, 0, end); i < end; i = next_present(words, i + 1, end)) {
    if (level == 4 && !is_guest_l4_slot(i)) continue;  // (written when a validation completes)
    audit_entry(d, table, level, i, words[i], out);
  }
}

void AuditRules::entry_refs(const Domain& d, Mfn table, unsigned level, uint64_t i,
                            std::vector<Ref>& out) {
  audit_entry(d, table, level, i, xen_.machine().memory().read_entry(table, i), out);
}

std::string AuditRules::where(const Domain& d, Mfn table, unsigned level, uint64_t i) const {
  return "dom" + std::to_string(d.id) + " L" + std::to_string(level) + " " + hex(table.value) +
         "[" + std::to_string(i) + "]";
}

void AuditRules::audit_xen_slot(const Domain& d, Mfn table, uint64_t i, uint64_t word) {
  const Pte e{word};
  const Mfn want = i == kLinearSlot ? table : xen_.xen_l3();
  if (!e.present() || e.mfn() != want || e.has(kUser)) {
    fail(where(d, table, 4, i) + ": Xen slot does not hold Xen's entry");
  }
}

// One present guest entry of a validated (or partly validated) table.
void AuditRules::audit_entry(const Domain& d, Mfn table, unsigned level, uint64_t i, uint64_t word,
                             std::vector<Ref>& out) {
  const Pte e{word};
  const auto entry = static_cast<uint16_t>(i);
  const auto at = [&] { return where(d, table, level, i) + " -> " + hex(e.mfn().value); };
  if (!ft_.valid(e.mfn())) {
    fail(at() + ": maps a frame outside memory");
    return;
  }
  const PageInfo& target = ft_[e.mfn()];
  if (level == 1) {
    if (e.flags() & l1_disallow_mask(d.may_use_cache_attrs())) {
      fail(at() + ": disallowed flags in a validated L1");
    }
    // A control domain may map another live domain's frames into its own tables (mmu_update's
    // page owner), and, naming another domain's tables too (foreigndom's page-table owner,
    // PFD), its own or any live domain's frames into them. Without a control domain no domain
    // can reach another's frames.
    const bool live_owner = target.owner != d.id && target.owner < domain_count_;
    if (target.owner != d.id && !(live_owner && control_domain_)) {
      fail(at() + ": maps a frame the domain does not own");
    }
    const bool rw = e.has(kRw);
    out.push_back(Ref{e.mfn(), Expected{1, rw ? 1U : 0U, 0}, entry});
    if (rw && target.type != PageType::kWritable) {
      fail(at() + ": writable mapping of a " + std::string(type_name(target.type)) + " frame");
    }
    return;
  }
  if (e.flags() & kBaseDisallow) fail(at() + ": disallowed flags in a validated table");
  if (target.owner != d.id) fail(at() + ": references a frame the domain does not own");
  if (e.mfn() == table) {
    if (e.has(kRw)) fail(at() + ": writable self-map");
    return;  // self-maps hold no references
  }
  if (target.type == pt_type_of_level(level)) {
    if (e.has(kRw)) fail(at() + ": writable linear page-table entry");
    out.push_back(Ref{e.mfn(), Expected{1, 1, -1}, entry});
    out.push_back(Ref{table, Expected{0, 0, 1}, entry});
  } else {
    out.push_back(Ref{e.mfn(), Expected{1, 1, 0}, entry});
    if (target.type != pt_type_of_level(level - 1)) {
      fail(at() + ": child has type " + std::string(type_name(target.type)));
    }
  }
  if (!target.validated) fail(at() + ": child not validated");
}

void AuditRules::walk_io(const Domain& d, IoMap& map, std::vector<uint64_t>* tables) {
  map.clear();
  if (d.iommu_root != kInvalidMfn) walk_io_table(d, d.iommu_root, 4, 0, map, tables);
}

void AuditRules::walk_io_table(const Domain& d, Mfn table, unsigned level, uint64_t base,
                               IoMap& map, std::vector<uint64_t>* tables) {
  if (tables != nullptr) tables->push_back(table.value);
  if (ft_[table].owner != kXenOwner) {
    fail("I/O page table " + hex(table.value) + " of domain " + std::to_string(d.id) +
         " is not a Xen-owned frame");
  }
  const uint64_t* words = xen_.machine().memory().frame_words(table);  // nullptr: all zero
  if (words == nullptr) return;
  constexpr uint64_t kMapped = hw::iopte::kRead | hw::iopte::kWrite;
  for (uint64_t i = next_with(words, 0, kEntriesPerTable, kMapped); i < kEntriesPerTable;
       i = next_with(words, i + 1, kEntriesPerTable, kMapped)) {
    const uint64_t e = words[i];
    const Mfn target{(e & hw::iopte::kAddrMask) >> kPageShift};
    const uint64_t dfn = (base << 9) | i;
    const bool leaf = level == 1 || (e & hw::iopte::kSuperpage) != 0;
    if (!leaf) {
      walk_io_table(d, target, level - 1, dfn, map, tables);
      continue;
    }
    if (level > 3 || (level > 1 && xen_.iommu_superpage_levels() < level - 1)) {
      fail("I/O superpage at level " + std::to_string(level) + " for " + hex(dfn) +
           " where Xen uses no superpages of that size");
    }
    // A leaf maps 1, 512 or 512^2 frames: each one the identity, and owned.
    const uint64_t frames = uint64_t{1} << (9 * (level - 1));
    const uint64_t first = dfn * frames;
    if (target.value != first) fail("I/O mapping " + hex(first) + " is not the identity");
    map.add(first, frames, level == 1 ? e : e & ~hw::iopte::kSuperpage);
  }
}

void AuditRules::check_io_beyond_memory(const Domain& d, const IoMap::Run& r) {
  for (uint64_t f = std::max(r.first, ft_.size()); f < r.first + r.frames; ++f) {
    fail("domain " + std::to_string(d.id) + "'s IOMMU maps frame " + hex(f) + " it does not own",
         AuditKind::kIommuMapsUnowned, Mfn{f});
  }
}

void AuditRules::check_io_target(const Domain& d, Mfn f, const PageInfo& pg) {
  // A relaxed hardware domain has all of RAM mapped by design, and its mappings never follow
  // what it gives back; a synchronised domain's IOMMU maps only frames it owns.
  if (pg.owner != d.id) {
    fail("domain " + std::to_string(d.id) + "'s IOMMU maps frame " + hex(f.value) +
             " it does not own",
         AuditKind::kIommuMapsUnowned, f);
  }
}

void AuditRules::check_io_frame(const Domain& d, Mfn f, const PageInfo& pg, uint64_t entry) {
  const bool writable_dma = (entry & hw::iopte::kWrite) != 0;
  const bool validated_pt =
      pg.type != PageType::kWritable && pg.type != PageType::kNone && pg.type_count > 0;
  // Paper-era Xen leaves frames that never were writable mapped (XSA-288): not flagged.
  if (validated_pt && writable_dma && (xsa288_fixed_ || pg.ever_writable)) {
    fail("frame " + hex(f.value) + " is a page table (type count " + std::to_string(pg.type_count) +
         ") but DMA-writable in domain " + std::to_string(d.id) + "'s IOMMU");
  }
  if (pg.dma_revoked && entry != 0) {
    fail("frame " + hex(f.value) + " is revoked from DMA (page-table pool) but DMA-reachable");
  }
  if (xsa288_fixed_ &&
      (pg.type == PageType::kWritable && !pg.dma_revoked) != ((entry & hw::iopte::kRead) != 0)) {
    fail("frame " + hex(f.value) + ": in the IOMMU " + (entry ? "yes" : "no") + " but type " +
         (pg.type == PageType::kWritable ? "writable" : "not writable"));
  }
}

void AuditRules::check_tlbs() {
  // A guest-usable writable translation cached by any CPU must lead to a writable-typed frame:
  // otherwise a stale TLB entry would let the guest write a page table.
  const auto& machine = xen_.machine();
  for (CpuId c = 0; c < machine.cpu_count(); ++c) {
    // Whose translations the CPU caches: a CPU switching domains flushes (write_ptbase).
    const DomId loaded = xen_.loaded_domain(c);
    const bool control_domain = loaded < domain_count_ && xen_.domain(loaded).config.privileged;
    machine.cpu(c).mmu().tlb().for_each_valid([&](const hw::TlbEntry& t) {
      if (!t.user || !t.writable || !ft_.valid(t.mfn)) return;
      const PageInfo& pg = ft_[t.mfn];
      // A free frame's stale translation is harmless until the frame is handed out again, and
      // Xen flushes every CPU that has not flushed since its free before it does.
      if (pg.owner == kNoOwner) return;
      // A type change flushes the frame owner's dirty CPUs only (_get_page_type), so a control
      // domain's stale translation of another domain's frame, left from a foreign mapping it
      // has since removed, survives: Xen trusts that domain with every domain's memory.
      if (control_domain && pg.owner != loaded) return;
      if (pg.type != PageType::kWritable) {
        fail("cpu" + std::to_string(c) + " TLB: writable user translation of va " +
             hex(t.vpn << kPageShift) + " to " + std::string(type_name(pg.type)) + " frame " +
             hex(t.mfn.value));
      }
    });
  }
}

}  // namespace pib::xen::audit_detail
