// SPDX-License-Identifier: MIT
// The auditor's rules, one frame, table or I/O mapping at a time: what each holder references
// and what each frame's state must agree with. The full auditor (audit.cpp) applies them to
// everything after a step; the incremental one (audit_incremental.cpp) to what the step wrote.
// One set of rules for both, so they cannot drift apart.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "xen/audit.hpp"
#include "xen/hypervisor.hpp"

namespace pib::xen::audit_detail {

// The references a frame is found to hold: general, typed, and the linear page-table balance
// (> 0: it holds linear entries; < 0: it is their target). Unsigned counts wrap consistently
// when a holder's share is taken back out (the incremental auditor).
struct Expected {
  uint64_t count = 0;
  uint64_t type_count = 0;
  int64_t linear = 0;
  bool operator==(const Expected&) const = default;
  Expected& operator+=(const Expected& o) {
    count += o.count;
    type_count += o.type_count;
    linear += o.linear;
    return *this;
  }
  Expected& operator-=(const Expected& o) {
    count -= o.count;
    type_count -= o.type_count;
    linear -= o.linear;
    return *this;
  }
};

// One holder's share of one frame's references, and the table entry that holds it.
inline constexpr uint16_t kNoEntry = 0xffff;  // the holder's own (a pin, a PGT_partial state)
struct Ref {
  Mfn frame;
  Expected share;
  uint16_t entry = kNoEntry;
};

// The entry the domain's I/O page tables give each I/O frame, as runs of frames whose entries
// step by one frame (an identity map with one set of permissions is one run), in I/O frame order.
class IoMap {
 public:
  void clear() {
    runs_.clear();
    cursor_ = 0;
  }
  void add(uint64_t first, uint64_t frames, uint64_t entry);  // ascending, as a walk finds them
  // The 4 KiB entry for `dfn` (0: not mapped); a superpage's share is the entry a split gives.
  uint64_t entry(Mfn dfn) const;
  struct Run {
    uint64_t first = 0;
    uint64_t frames = 0;
    uint64_t entry = 0;  // the first frame's 4 KiB entry
  };
  const std::vector<Run>& runs() const { return runs_; }

 private:
  std::vector<Run> runs_;
  mutable std::size_t cursor_ = 0;  // the run entry() found last: pages come mostly in order
};

class AuditRules {
 public:
  // Problems found are appended to `problems`.
  AuditRules(const Hypervisor& xen, std::vector<AuditProblem>& problems);

  const Hypervisor& xen() const { return xen_; }
  const FrameTable& frames() const { return ft_; }

  // The references the domain's vCPUs hold: base pointers and a deferred put.
  void vcpu_refs(const Domain& d, std::vector<Ref>& out) const;
  // The references frame `m` of domain `d` holds (pin, PGT_partial state, entries of a
  // validated or partly validated table) and its table's rules. The caller checked that the
  // domain owns it.
  void frame_refs(const Domain& d, Mfn m, const PageInfo& pg, std::vector<Ref>& out);
  // One present entry `i` of table `table` (a level-`level` table of `d` whose rules
  // frame_refs() applied): its references and rules again, after its target's state changed.
  void entry_refs(const Domain& d, Mfn table, unsigned level, uint64_t i, std::vector<Ref>& out);
  // Frame `m`, owned by `d`, against the references `found` to it.
  void compare_frame(const Domain& d, Mfn m, const PageInfo& pg, Expected found);
  static bool counts_as_l4(const PageInfo& pg) {
    return pg.type == PageType::kL4 && pg.validated && !pg.partial;
  }
  void compare_l4_total(const Domain& d, uint64_t validated_l4);

  // Walks the domain's I/O page tables into `map` (and `tables`: the frames walked).
  void walk_io(const Domain& d, IoMap& map, std::vector<uint64_t>* tables);
  // The frames of a run the walk found that lie past memory (no domain owns them).
  void check_io_beyond_memory(const Domain& d, const IoMap::Run& r);
  // A synchronised domain's IOMMU maps only frames it owns: `f` is one the map holds.
  void check_io_target(const Domain& d, Mfn f, const PageInfo& pg);
  // A synchronised domain's mapping discipline for one of its frames (`entry`: map.entry(f)).
  void check_io_frame(const Domain& d, Mfn f, const PageInfo& pg, uint64_t entry);
  // Every guest-usable writable translation a CPU caches leads to a writable-typed frame.
  void check_tlbs();

 private:
  void fail(std::string what, AuditKind kind = AuditKind::kOther, Mfn frame = kInvalidMfn) {
    problems_.push_back(AuditProblem{kind, frame, std::move(what)});
  }
  void audit_table(const Domain& d, Mfn table, unsigned level, uint64_t end, std::vector<Ref>& out);
  void audit_xen_slot(const Domain& d, Mfn table, uint64_t i, uint64_t word);
  void audit_entry(const Domain& d, Mfn table, unsigned level, uint64_t i, uint64_t word,
                   std::vector<Ref>& out);
  void walk_io_table(const Domain& d, Mfn table, unsigned level, uint64_t base, IoMap& map,
                     std::vector<uint64_t>* tables);
  std::string where(const Domain& d, Mfn table, unsigned level, uint64_t i) const;

  const Hypervisor& xen_;
  const FrameTable& ft_;
  const std::size_t domain_count_;  // domain ids are 0 .. count - 1
  bool control_domain_ = false;     // some domain is privileged
  const bool xsa288_fixed_;         // the mapping discipline (modern, or the 4.8-4.11 backport)
  std::vector<AuditProblem>& problems_;
};

}  // namespace pib::xen::audit_detail
