// SPDX-License-Identifier: MIT
#include "xen/audit.hpp"

#include <algorithm>
#include <optional>

#include "common/chunked_table.hpp"
#include "xen/audit_rules.hpp"

namespace pib::xen {

namespace {

using audit_detail::AuditRules;
using audit_detail::Expected;
using audit_detail::IoMap;
using audit_detail::Ref;

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

// Every rule applied to everything, in one pass per kind.
class Auditor {
 public:
  explicit Auditor(const Hypervisor& xen)
      : xen_(xen), ft_(xen.frame_table()), rules_(xen, problems_) {}

  std::vector<AuditProblem> run() {
    // A control domain's L1 entries may reference another domain's frames (foreign mappings),
    // so every domain's references are counted before any frame's counts are compared.
    exp_ = &reference_counts(ft_.size());
    for (DomId id : xen_.domain_ids()) count_references(xen_.domain(id));
    for (DomId id : xen_.domain_ids()) compare_counts(xen_.domain(id));
    for (DomId id : xen_.domain_ids()) audit_iommu(xen_.domain(id));
    rules_.check_tlbs();
    return std::move(problems_);
  }
  std::vector<AuditProblem> run_tlbs() {
    rules_.check_tlbs();
    return std::move(problems_);
  }

 private:
  // f(mfn, page_info) for every frame the domain was given, a run of frames at a time.
  template <typename F>
  void for_each_page(const Domain& d, F f) const {
    for (const auto& run : d.pages.runs()) ft_.for_each(Mfn{run.first}, run.count, f);
  }
  void add(const std::vector<Ref>& refs) {
    for (const Ref& r : refs) exp_->mut(r.frame.value) += r.share;
  }
  // The direct map gives most frames the same count, so chunks are folded after a table (no
  // reference is held then) once there are enough of them to matter; folding a few back each
  // time would only refill them.
  void fold_counts() {
    constexpr uint64_t kFoldAbove = 64;  // chunks of 512 frames: 768 KiB of counts
    if (exp_->dense_chunks() > kFoldAbove) exp_->compact();
  }

  void count_references(const Domain& d) {
    refs_.clear();
    rules_.vcpu_refs(d, refs_);
    add(refs_);
    for_each_page(d, [&](Mfn m, const PageInfo& pg) {
      if (pg.owner != d.id) return;  // (not owned: freed and reused elsewhere)
      refs_.clear();
      rules_.frame_refs(d, m, pg, refs_);
      add(refs_);
      if (is_pt_type(pg.type)) fold_counts();
    });
  }

  // Every frame the domain owns against the references found to it.
  void compare_counts(const Domain& d) {
    uint64_t validated_l4 = 0;
    for_each_page(d, [&](Mfn m, const PageInfo& pg) {
      if (pg.owner != d.id) return;
      if (AuditRules::counts_as_l4(pg)) ++validated_l4;
      rules_.compare_frame(d, m, pg, exp_->get(m.value));
    });
    rules_.compare_l4_total(d, validated_l4);
  }

  // The domain's I/O page tables: every mapping targets one of its own frames; with
  // synchronisation, no validated page table is DMA-writable and (modern Xen, post-XSA-288)
  // a frame is mapped exactly while its type is writable.
  void audit_iommu(const Domain& d) {
    if (d.iommu_root == kInvalidMfn) return;
    // One walk of the I/O page tables records the entry each frame sees, so the checks below
    // do not walk again per frame.
    rules_.walk_io(d, io_, nullptr);
    for (const IoMap::Run& r : io_.runs()) {
      const uint64_t in_memory_end = std::min(r.first + r.frames, std::max(r.first, ft_.size()));
      if (d.need_iommu_sync()) {
        ft_.for_each(Mfn{r.first}, in_memory_end - r.first,
                     [&](Mfn f, const PageInfo& pg) { rules_.check_io_target(d, f, pg); });
      }
      rules_.check_io_beyond_memory(d, r);
    }
    if (!d.need_iommu_sync()) return;
    for_each_page(
        d, [&](Mfn m, const PageInfo& pg) { rules_.check_io_frame(d, m, pg, io_.entry(m)); });
  }

  const Hypervisor& xen_;
  const FrameTable& ft_;
  std::vector<AuditProblem> problems_;
  AuditRules rules_;                       // (after problems_, which it appends to)
  ChunkedTable<Expected>* exp_ = nullptr;  // reference_counts(), for run()
  std::vector<Ref> refs_;                  // one holder's references
  IoMap io_;                               // the I/O mappings of the domain being audited
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
