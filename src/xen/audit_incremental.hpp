// SPDX-License-Identifier: MIT
// The auditor's verdict, kept up to date from what changed instead of recomputed from
// everything: the fuzz target audits six configurations after every step, and a step writes a
// few frames of hundreds. Machine memory and the frame table log the frames written (the
// constructor attaches the logs); each call re-applies the auditor's rules (audit_rules.hpp,
// the full auditor's own) to those frames, to the tables that reference a frame whose state
// changed, and to the frames whose references changed, and keeps every other holder's share
// and verdict from before. Frames that join or leave a domain count as changed; a change of
// the domains themselves or of the flags that decide their rules rebuilds everything.
//
// clean() is true exactly when audit_problems() would find nothing; the fuzz target checks that
// on every step of its corpus (`pibooster_fuzz_replay --check-incremental`, fuzz.incremental).
// For the problems' texts, run the full auditor.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/dirty_frames.hpp"
#include "xen/audit_rules.hpp"
#include "xen/hypervisor.hpp"

namespace pib::xen {

class IncrementalAudit {
 public:
  // Attaches the write logs to `xen`'s frame table and its machine's memory; the audit then
  // follows that hypervisor until its own end (it must not outlive the hypervisor, which it
  // detaches from then).
  explicit IncrementalAudit(Hypervisor& xen);
  // Follows `xen`, a copy of the hypervisor `source` follows, from the verdict `source` reached
  // (when nothing was written there since): the fuzz target's configurations are copies of
  // kept ones, and auditing each copy from scratch cost as much as the steps saved.
  IncrementalAudit(const IncrementalAudit& source, Hypervisor& xen);
  // Takes `source`'s verdict again, as the copy does, after the hypervisor it follows was
  // restored from `source`'s (Hypervisor::restore): what the restore wrote is the state
  // `source` audited, so the write logs start empty.
  void restore(const IncrementalAudit& source);
  IncrementalAudit(const IncrementalAudit&) = delete;
  IncrementalAudit& operator=(const IncrementalAudit&) = delete;
  ~IncrementalAudit();

  // Whether the full auditor would find no problem in the hypervisor's current state.
  bool clean();
  // Audits from scratch at the next clean() (as after attaching).
  void invalidate() { built_ = false; }

 private:
  using Expected = audit_detail::Expected;
  using Ref = audit_detail::Ref;

  // What decides which rules apply where: when it changes, everything is audited again.
  struct DomainShape {
    const Domain* domain = nullptr;  // (Xen keeps a domain's record in place while it exists)
    DomId id = 0;
    bool privileged = false;
    bool cache_attrs = false;
    bool sync = false;
    std::vector<std::pair<uint64_t, uint64_t>> pages;   // runs, in allocation order
    std::vector<std::pair<uint64_t, uint64_t>> sorted;  // the same runs by first frame
  };
  // One holder's share of the references (a frame's pin, PGT_partial state and entries).
  struct Holder {
    std::vector<Ref> refs;
    std::size_t domain = 0;  // index in shape_ of its owner
    unsigned level = 0;      // its table's level (0: not a table)
    bool whole_bad = false;  // its own computation broke a rule (then it is always redone whole)
    std::vector<uint16_t> bad_entries;  // entries re-checked alone since, that broke a rule
    bool bad() const { return whole_bad || !bad_entries.empty(); }
  };
  // A domain's I/O page tables and what their mappings broke.
  struct IoState {
    Mfn root = kInvalidMfn;
    audit_detail::IoMap map;
    std::vector<uint64_t> tables;             // the frames the walk read
    bool walk_bad = false;                    // the walk found a problem, or frames past memory
    std::unordered_set<uint64_t> unowned;     // mapped frames the domain does not own
    std::unordered_set<uint64_t> frames_bad;  // its frames breaking the mapping discipline
  };

  // Whether the domains and the flags that decide their rules are as they were.
  bool same_rules(const std::vector<DomId>& ids) const;
  void follow_pages();
  void rebuild(const std::vector<DomId>& ids);
  void update();
  // The index in shape_ of the domain `id`, if it is one; whether its pages hold frame `f`.
  std::optional<std::size_t> index_of(DomId id) const;
  bool in_pages(std::size_t domain, uint64_t f) const;
  const Domain& domain(std::size_t index) const { return *shape_[index].domain; }
  void redo_holder(uint64_t f);
  // Re-checks the entries `entries` of holder `f` alone: their targets' states changed.
  void redo_entries(uint64_t f, Holder& h, std::vector<uint16_t>& entries);
  void recount_roots();
  void compare(uint64_t f);
  void audit_io(std::size_t index, bool walk);
  void check_io_target(const Domain& d, IoState& io, uint64_t f);
  void check_io_frame(const Domain& d, IoState& io, uint64_t f);
  // Runs `check` (rules_ calls) and says whether it found a problem; the texts are dropped.
  template <typename Check>
  bool breaks_rules(Check check) {
    scratch_.clear();
    check();
    const bool broke = !scratch_.empty();
    scratch_.clear();
    return broke;
  }
  void add(const Ref& r, bool take_back);
  bool clean_now();  // (after an update: the kept verdicts, the totals, the TLBs)

  Hypervisor& xen_;
  DirtyFrames memory_log_;
  DirtyFrames frame_log_;
  bool built_ = false;
  std::vector<DomainShape> shape_;
  std::vector<AuditProblem> scratch_;  // the rules' findings: only whether there are any counts
  std::optional<audit_detail::AuditRules> rules_;  // (appends to scratch_)

  std::vector<Expected> found_;  // references found, per frame
  std::unordered_map<uint64_t, Holder> holders_;
  std::size_t bad_holders_ = 0;
  std::vector<Ref> roots_;                  // the vCPUs' references
  std::unordered_set<uint64_t> count_bad_;  // frames whose counts disagree
  std::vector<DomId> l4_owner_;             // per frame: the domain it counts as an L4 of
  std::vector<uint64_t> l4_count_;          // per domain index
  std::vector<IoState> io_;                 // per domain index
  DirtyFrames touched_;                     // frames whose references changed in this update
  DirtyFrames redo_;                        // holders to recompute in this update
  std::vector<Ref> refs_;                   // one holder's references, while computing them
  std::vector<uint16_t> entries_;           // one holder's entries to re-check
};

}  // namespace pib::xen
