// SPDX-License-Identifier: MIT
#include "xen/audit.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "common/chunked_table.hpp"
#include "xen/pt_flags.hpp"

namespace pib::xen {

using hw::Pte;
using namespace hw::pte_bits;

namespace {

struct Expected {
  uint64_t count = 0;
  uint64_t type_count = 0;
  int64_t linear = 0;
  bool operator==(const Expected&) const = default;
};

// The references one audit finds, per frame: sparse like the frame table. One table per
// thread, kept from one audit to the next and reset in place: the fuzzer audits after every
// step, and making and freeing the chunks each time was a tenth of an audit.
ChunkedTable<Expected>& reference_counts(uint64_t frames) {
  thread_local std::optional<ChunkedTable<Expected>> table;
  constexpr uint64_t kKeepChunks = 64;  // a large machine's audit gives the rest back
  if (table && table->size() == frames && table->dense_chunks() <= kKeepChunks) {
    table->reset(Expected{});
  } else {
    table.emplace(frames, Expected{});
  }
  return *table;
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

class Auditor {
 public:
  explicit Auditor(const Hypervisor& xen)
      : xen_(xen), ft_(xen.frame_table()), domain_count_(xen.domain_ids().size()) {
    for (DomId id : xen.domain_ids())
      control_domain_ = control_domain_ || xen.domain(id).config.privileged;
  }

  std::vector<AuditProblem> run() {
    // A control domain's L1 entries may reference another domain's frames (foreign mappings),
    // so every domain's references are counted before any frame's counts are compared.
    exp_ = &reference_counts(ft_.size());
    for (DomId id : xen_.domain_ids()) count_references(xen_.domain(id));
    for (DomId id : xen_.domain_ids()) compare_counts(xen_.domain(id));
    for (DomId id : xen_.domain_ids()) audit_iommu(xen_.domain(id));
    audit_tlbs();
    return std::move(problems_);
  }
  std::vector<AuditProblem> run_tlbs() {
    audit_tlbs();
    return std::move(problems_);
  }

 private:
  void fail(std::string what, AuditKind kind = AuditKind::kOther, Mfn frame = kInvalidMfn) {
    problems_.push_back(AuditProblem{kind, frame, std::move(what)});
  }

  // References found, per frame. Sparse like the frame table: the direct map gives most frames
  // the same count, so chunks are folded after a table (no reference is held then) once there
  // are enough of them to matter; folding a few back each time would only refill them.
  Expected& expected(Mfn m) { return exp_->mut(m.value); }
  // f(mfn, page_info) for every frame the domain was given, a run of frames at a time.
  template <typename F>
  void for_each_page(const Domain& d, F f) const {
    for (const auto& run : d.pages.runs()) ft_.for_each(Mfn{run.first}, run.count, f);
  }
  void fold_counts() {
    constexpr uint64_t kFoldAbove = 64;  // chunks of 512 frames: 768 KiB of counts
    if (exp_->dense_chunks() > kFoldAbove) exp_->compact();
  }

  void add_root_refs(Mfn m) {
    if (m == kInvalidMfn) return;
    ++expected(m).count;
    ++expected(m).type_count;
  }

  // The references the domain's pins, base pointers and tables hold, and its tables' rules.
  void count_references(const Domain& d) {
    // The allocation reference (PGC_allocated) is added when comparing, so that only pinned
    // frames need an entry here.
    for (const Vcpu& v : d.vcpus) {
      add_root_refs(v.guest_table);
      add_root_refs(v.guest_table_user);
      // A partial old_guest_table holds a general reference only (its state has the type count).
      if (v.old_guest_table && v.old_guest_table_partial) ++expected(*v.old_guest_table).count;
      if (v.old_guest_table && !v.old_guest_table_partial) add_root_refs(*v.old_guest_table);
    }
    for_each_page(d, [&](Mfn m, const PageInfo& pg) {
      if (pg.owner != d.id) return;  // (not owned: freed and reused elsewhere)
      if (pg.pinned) {
        ++expected(m).count;
        ++expected(m).type_count;
      }
      if (!is_pt_type(pg.type)) return;
      if (pg.partial) {
        // PGT_partial: the state owns the type count of 1 and a general reference; only the
        // entries whose references it still holds are checked, and a partial child's entry
        // holds a general reference alone.
        add_root_refs(m);
        audit_table(d, m, level_of(pg.type), pg.nr_validated);
        if (pg.partial_entry) {
          // (The child may have been validated since by another acquisition, which took its
          // partial type count over: the entry's general reference is all it holds either way.)
          const Pte e{xen_.machine().memory().read_entry(m, pg.nr_validated)};
          if (e.present() && ft_.valid(e.mfn())) {
            ++expected(e.mfn()).count;
          } else {
            fail("dom" + std::to_string(d.id) + " partial " + hex(m.value) + "[" +
                 std::to_string(pg.nr_validated) + "]: no child there");
          }
        }
        fold_counts();
        return;
      }
      if (!pg.validated) return;
      audit_table(d, m, level_of(pg.type), kEntriesPerTable);
      fold_counts();
    });
  }

  // Every frame the domain owns against the references found to it.
  void compare_counts(const Domain& d) {
    uint64_t validated_l4 = 0;
    for_each_page(d, [&](Mfn m, const PageInfo& pg) {
      if (pg.owner != d.id) return;
      if (pg.type == PageType::kL4 && pg.validated && !pg.partial) ++validated_l4;
      Expected e = exp_->get(m.value);
      if (pg.allocated) ++e.count;
      e.count += pg.leaked_refs;  // no holder to find: Xen's own path left them (xen.ref_leaked)
      // Named only when something is wrong: the fuzzer audits after every step.
      const auto at = [&] { return "dom" + std::to_string(d.id) + " mfn " + hex(m.value); };
      if (pg.count != e.count) {
        fail(at() + ": general count " + std::to_string(pg.count) + ", references found " +
             std::to_string(e.count));
      }
      if (pg.type_count != e.type_count) {
        fail(at() + " (" + std::string(type_name(pg.type)) + "): type count " +
             std::to_string(pg.type_count) + ", typed references found " +
             std::to_string(e.type_count));
      }
      if (pg.linear_pt_count != e.linear) {
        fail(at() + ": linear_pt_count " + std::to_string(pg.linear_pt_count) + ", expected " +
             std::to_string(e.linear));
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
    });
    if (validated_l4 != d.nr_l4_pages) {
      fail("dom" + std::to_string(d.id) + ": nr_l4_pages " + std::to_string(d.nr_l4_pages) +
           ", validated L4 tables " + std::to_string(validated_l4));
    }
  }

  // Entries [0, end) of a table holding their references (all of a validated table).
  void audit_table(const Domain& d, Mfn table, unsigned level, uint64_t end) {
    // The auditor writes no guest memory, so the frame's words stay put while it reads them;
    // non-present entries are skipped by a scan of the words alone (the fuzzer audits after
    // every step), and Xen's L4 slots are checked apart.
    const uint64_t* words = xen_.machine().memory().frame_words(table);  // nullptr: all zero
    if (level == 4 && end == kEntriesPerTable) {
      for (uint64_t i = 0; i < kEntriesPerTable; ++i) {
        if (!is_guest_l4_slot(i)) audit_xen_slot(d, table, i, Pte{words ? words[i] : 0});
      }
    }
    if (words == nullptr) return;
    for (uint64_t i = next_present(words, 0, end); i < end; i = next_present(words, i + 1, end)) {
      if (level == 4 && !is_guest_l4_slot(i)) continue;  // (written when a validation completes)
      audit_entry(d, table, level, i, Pte{words[i]});
    }
  }

  // The first index in [from, end) whose word has a bit of `mask`, or end. Mostly-empty tables
  // are the common case, so whole cache lines of words are tested at once.
  static uint64_t next_with(const uint64_t* words, uint64_t from, uint64_t end, uint64_t mask) {
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
  static uint64_t next_present(const uint64_t* words, uint64_t from, uint64_t end) {
    return next_with(words, from, end, kPresent);
  }

  std::string where(const Domain& d, Mfn table, unsigned level, uint64_t i) const {
    return "dom" + std::to_string(d.id) + " L" + std::to_string(level) + " " + hex(table.value) +
           "[" + std::to_string(i) + "]";
  }

  void audit_xen_slot(const Domain& d, Mfn table, uint64_t i, Pte e) {
    const Mfn want = i == kLinearSlot ? table : xen_.xen_l3();
    if (!e.present() || e.mfn() != want || e.has(kUser)) {
      fail(where(d, table, 4, i) + ": Xen slot does not hold Xen's entry");
    }
  }

  // One present guest entry of a validated (or partly validated) table.
  void audit_entry(const Domain& d, Mfn table, unsigned level, uint64_t i, Pte e) {
    const auto at = [&] { return where(d, table, level, i) + " -> " + hex(e.mfn().value); };
    if (!ft_.valid(e.mfn())) {
      fail(at() + ": maps a frame outside memory");
      return;
    }
    const PageInfo& target = ft_[e.mfn()];
    Expected& x = expected(e.mfn());
    if (level == 1) {
      if (e.flags() & l1_disallow_mask(d.may_use_cache_attrs())) {
        fail(at() + ": disallowed flags in a validated L1");
      }
      // A control domain may map another live domain's frames into its own tables (mmu_update's
      // page owner), and, naming another domain's tables too (foreigndom's page-table owner,
      // PFD), its own or any live domain's frames into them. Without a control domain no
      // domain can reach another's frames.
      const bool live_owner = target.owner != d.id && target.owner < domain_count_;
      if (target.owner != d.id && !(live_owner && control_domain_)) {
        fail(at() + ": maps a frame the domain does not own");
      }
      ++x.count;
      if (e.has(kRw)) {
        ++x.type_count;
        if (target.type != PageType::kWritable) {
          fail(at() + ": writable mapping of a " + std::string(type_name(target.type)) + " frame");
        }
      }
      return;
    }
    if (e.flags() & kBaseDisallow) fail(at() + ": disallowed flags in a validated table");
    if (target.owner != d.id) fail(at() + ": references a frame the domain does not own");
    if (e.mfn() == table) {
      if (e.has(kRw)) fail(at() + ": writable self-map");
      return;  // self-maps hold no references
    }
    ++x.count;
    ++x.type_count;
    if (target.type == pt_type_of_level(level)) {
      if (e.has(kRw)) fail(at() + ": writable linear page-table entry");
      --x.linear;
      ++expected(table).linear;
    } else if (target.type != pt_type_of_level(level - 1)) {
      fail(at() + ": child has type " + std::string(type_name(target.type)));
    }
    if (!target.validated) fail(at() + ": child not validated");
  }

  // The domain's I/O page tables: every mapping targets one of its own frames; with
  // synchronisation, no validated page table is DMA-writable and (modern Xen, post-XSA-288)
  // a frame is mapped exactly while its type is writable.
  void audit_iommu(const Domain& d) {
    if (d.iommu_root == kInvalidMfn) return;
    // One walk of the I/O page tables records the entry each frame sees (a superpage's share as
    // the 4 KiB entry a split would give it), so the checks below do not walk again per frame.
    io_runs_.clear();
    io_cursor_ = 0;
    walk_io(d, d.iommu_root, 4, 0);
    check_io_targets(d);
    if (!d.need_iommu_sync()) return;
    // XSA-288's fix (modern Xen, or the 4.8-4.11 backport) decides the mapping discipline.
    const bool modern = xsa288_fixed(xen_.params());
    for_each_page(d, [&](Mfn mfn, const PageInfo& pg) {
      const uint64_t e = io_entry(mfn);
      const bool writable_dma = (e & hw::iopte::kWrite) != 0;
      const bool validated_pt =
          pg.type != PageType::kWritable && pg.type != PageType::kNone && pg.type_count > 0;
      // Paper-era Xen leaves frames that never were writable mapped (XSA-288): not flagged.
      if (validated_pt && writable_dma && (modern || pg.ever_writable)) {
        fail("frame " + hex(mfn.value) + " is a page table (type count " +
             std::to_string(pg.type_count) + ") but DMA-writable in domain " +
             std::to_string(d.id) + "'s IOMMU");
      }
      if (pg.dma_revoked && e != 0) {
        fail("frame " + hex(mfn.value) +
             " is revoked from DMA (page-table pool) but DMA-reachable");
      }
      if (modern &&
          (pg.type == PageType::kWritable && !pg.dma_revoked) != ((e & hw::iopte::kRead) != 0)) {
        fail("frame " + hex(mfn.value) + ": in the IOMMU " + (e ? "yes" : "no") + " but type " +
             (pg.type == PageType::kWritable ? "writable" : "not writable"));
      }
    });
  }

  void walk_io(const Domain& d, Mfn table, unsigned level, uint64_t base) {
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
        walk_io(d, target, level - 1, dfn);
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
      const uint64_t frame_entry = level == 1 ? e : e & ~hw::iopte::kSuperpage;
      record_io_run(first, frames, frame_entry);
    }
  }

  // The walk visits leaves in ascending I/O frame order.
  void record_io_run(uint64_t first, uint64_t frames, uint64_t entry) {
    if (!io_runs_.empty()) {
      IoRun& last = io_runs_.back();
      if (last.first + last.frames == first && last.entry + (last.frames << kPageShift) == entry) {
        last.frames += frames;
        return;
      }
    }
    io_runs_.push_back(IoRun{first, frames, entry});
  }

  // The 4 KiB entry the domain's I/O tables give `dfn` (0: not mapped). The domain's pages come
  // mostly in ascending order, so the run found last is tried first.
  uint64_t io_entry(Mfn dfn) {
    const uint64_t v = dfn.value;
    const bool cursor_fits =
        io_cursor_ < io_runs_.size() && io_runs_[io_cursor_].first <= v &&
        (io_cursor_ + 1 == io_runs_.size() || v < io_runs_[io_cursor_ + 1].first);
    if (!cursor_fits) {
      const auto after = std::upper_bound(io_runs_.begin(), io_runs_.end(), v,
                                          [](uint64_t x, const IoRun& r) { return x < r.first; });
      if (after == io_runs_.begin()) return 0;
      io_cursor_ = static_cast<std::size_t>(after - io_runs_.begin()) - 1;
    }
    const IoRun& r = io_runs_[io_cursor_];
    return v < r.first + r.frames ? r.entry + ((v - r.first) << kPageShift) : 0;
  }

  // Every frame the walk found mapped (the runs), a run at a time.
  void check_io_targets(const Domain& d) {
    // A relaxed hardware domain has all of RAM mapped by design, and its mappings never follow
    // what it gives back; a synchronised domain's IOMMU maps only frames it owns.
    const auto unowned = [&](Mfn target) {
      fail("domain " + std::to_string(d.id) + "'s IOMMU maps frame " + hex(target.value) +
               " it does not own",
           AuditKind::kIommuMapsUnowned, target);
    };
    for (const IoRun& r : io_runs_) {
      const uint64_t end = r.first + r.frames;
      const uint64_t in_memory_end = std::min(end, std::max(r.first, ft_.size()));
      if (d.need_iommu_sync()) {
        ft_.for_each(Mfn{r.first}, in_memory_end - r.first, [&](Mfn f, const PageInfo& pg) {
          if (pg.owner != d.id) unowned(f);
        });
      }
      for (uint64_t f = in_memory_end; f < end; ++f) unowned(Mfn{f});
    }
  }

  void audit_tlbs() {
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

  const Hypervisor& xen_;
  const FrameTable& ft_;
  const std::size_t domain_count_;         // domain ids are 0 .. count - 1
  bool control_domain_ = false;            // some domain is privileged
  ChunkedTable<Expected>* exp_ = nullptr;  // reference_counts(), for run()
  // The I/O mappings of the domain being audited, in I/O frame order: runs of frames whose
  // entries step by one frame (an identity map with the same permissions is one run).
  struct IoRun {
    uint64_t first = 0;
    uint64_t frames = 0;
    uint64_t entry = 0;  // the first frame's 4 KiB entry
  };
  std::vector<IoRun> io_runs_;
  std::size_t io_cursor_ = 0;  // the run io_entry() found last
  std::vector<AuditProblem> problems_;
};

}  // namespace

std::vector<AuditProblem> audit_problems(const Hypervisor& xen) {
  return Auditor(xen).run();
}

std::vector<AuditProblem> audit_tlb_problems(const Hypervisor& xen) {
  return Auditor(xen).run_tlbs();
}

std::vector<std::string> audit(const Hypervisor& xen) {
  std::vector<std::string> texts;
  for (AuditProblem& p : audit_problems(xen)) texts.push_back(std::move(p.text));
  return texts;
}

}  // namespace pib::xen
