// SPDX-License-Identifier: MIT
#include "xen/audit_incremental.hpp"

#include <algorithm>

#include "common/error.hpp"

namespace pib::xen {

using audit_detail::AuditRules;

IncrementalAudit::IncrementalAudit(Hypervisor& xen)
    : xen_(xen),
      memory_log_(xen.machine().memory().frame_count()),
      frame_log_(xen.frame_table().size()),
      touched_(xen.frame_table().size()),
      redo_(xen.frame_table().size()) {
  xen_.machine().memory().set_write_log(&memory_log_);
  xen_.set_frame_write_log(&frame_log_);
}

IncrementalAudit::IncrementalAudit(const IncrementalAudit& source, Hypervisor& xen)
    : xen_(xen),
      memory_log_(source.memory_log_.size()),
      frame_log_(source.frame_log_.size()),
      touched_(source.touched_.size()),
      redo_(source.redo_.size()) {
  restore(source);
  xen_.machine().memory().set_write_log(&memory_log_);
  xen_.set_frame_write_log(&frame_log_);
}

void IncrementalAudit::restore(const IncrementalAudit& source) {
  if (source.memory_log_.size() != memory_log_.size() ||
      source.frame_log_.size() != frame_log_.size()) {
    model_bug("incremental audit: restored from an audit of a different machine");
  }
  built_ = source.built_ && source.memory_log_.empty() && source.frame_log_.empty();
  shape_ = source.shape_;
  found_ = source.found_;
  holders_ = source.holders_;
  bad_holders_ = source.bad_holders_;
  roots_ = source.roots_;
  count_bad_ = source.count_bad_;
  l4_owner_ = source.l4_owner_;
  l4_count_ = source.l4_count_;
  io_ = source.io_;
  memory_log_.clear();
  frame_log_.clear();
  touched_.clear();
  redo_.clear();
  rules_.reset();
  if (built_) {
    rules_.emplace(xen_, scratch_);
    for (DomainShape& d : shape_) d.domain = &xen_.domain(d.id);  // this hypervisor's records
  }
}

IncrementalAudit::~IncrementalAudit() {
  xen_.machine().memory().set_write_log(nullptr);
  xen_.set_frame_write_log(nullptr);
}

bool IncrementalAudit::clean() {
  const std::vector<DomId> ids = xen_.domain_ids();
  if (built_ && same_rules(ids)) {
    follow_pages();
    update();
  } else {
    rebuild(ids);
  }
  memory_log_.clear();
  frame_log_.clear();
  return clean_now();
}

bool IncrementalAudit::same_rules(const std::vector<DomId>& ids) const {
  if (ids.size() != shape_.size()) return false;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const Domain& d = xen_.domain(ids[i]);
    const DomainShape& s = shape_[i];
    if (s.domain != &d || s.id != d.id || s.privileged != d.config.privileged ||
        s.cache_attrs != d.may_use_cache_attrs() || s.sync != d.need_iommu_sync()) {
      return false;
    }
  }
  return true;
}

namespace {

bool in_runs(const std::vector<std::pair<uint64_t, uint64_t>>& sorted, uint64_t f) {
  auto after = std::upper_bound(sorted.begin(), sorted.end(), f,
                                [](uint64_t x, const auto& r) { return x < r.first; });
  if (after == sorted.begin()) return false;
  --after;
  return f < after->first + after->second;
}

bool same_runs(const std::vector<std::pair<uint64_t, uint64_t>>& kept, const RunList<Mfn>& pages) {
  if (kept.size() != pages.runs().size()) return false;
  for (std::size_t r = 0; r < kept.size(); ++r) {
    const auto& run = pages.runs()[r];
    if (kept[r] != std::pair<uint64_t, uint64_t>{run.first, run.count}) return false;
  }
  return true;
}

}  // namespace

// Frames that joined or left a domain (memory operations) are audited as if their state had
// changed: whether they hold references, are compared and are checked against the IOMMU
// depends on whose pages they are.
void IncrementalAudit::follow_pages() {
  for (std::size_t i = 0; i < shape_.size(); ++i) {
    const Domain& d = domain(i);
    DomainShape& s = shape_[i];
    if (same_runs(s.pages, d.pages)) continue;
    const std::vector<std::pair<uint64_t, uint64_t>> before = std::move(s.sorted);
    s.pages.clear();
    for (const auto& run : d.pages.runs()) s.pages.emplace_back(run.first, run.count);
    s.sorted = s.pages;
    std::sort(s.sorted.begin(), s.sorted.end());
    for (const auto& [first, count] : before) {
      for (uint64_t f = first; f < first + count; ++f) {
        if (!in_runs(s.sorted, f)) frame_log_.mark(f);
      }
    }
    for (const auto& [first, count] : s.sorted) {
      for (uint64_t f = first; f < first + count; ++f) {
        if (!in_runs(before, f)) frame_log_.mark(f);
      }
    }
  }
}

std::optional<std::size_t> IncrementalAudit::index_of(DomId id) const {
  for (std::size_t i = 0; i < shape_.size(); ++i) {
    if (shape_[i].id == id) return i;
  }
  return std::nullopt;
}

bool IncrementalAudit::in_pages(std::size_t domain, uint64_t f) const {
  return in_runs(shape_[domain].sorted, f);
}

void IncrementalAudit::add(const Ref& r, bool take_back) {
  if (take_back) {
    found_[r.frame.value] -= r.share;
  } else {
    found_[r.frame.value] += r.share;
  }
  touched_.mark(r.frame.value);
}

void IncrementalAudit::rebuild(const std::vector<DomId>& ids) {
  shape_.clear();
  for (DomId id : ids) {
    const Domain& d = xen_.domain(id);
    DomainShape s{&d, d.id, d.config.privileged, d.may_use_cache_attrs(), d.need_iommu_sync(),
                  {}, {}};
    for (const auto& run : d.pages.runs()) s.pages.emplace_back(run.first, run.count);
    s.sorted = s.pages;
    std::sort(s.sorted.begin(), s.sorted.end());
    shape_.push_back(std::move(s));
  }
  rules_.emplace(xen_, scratch_);
  const uint64_t frames = xen_.frame_table().size();
  found_.assign(frames, Expected{});
  holders_.clear();
  bad_holders_ = 0;
  roots_.clear();
  count_bad_.clear();
  l4_owner_.assign(frames, kNoOwner);
  l4_count_.assign(shape_.size(), 0);
  io_.assign(shape_.size(), IoState{});

  recount_roots();
  for (std::size_t i = 0; i < shape_.size(); ++i) {
    for (const auto& [first, count] : shape_[i].pages) {
      for (uint64_t f = first; f < first + count; ++f) redo_holder(f);
    }
  }
  for (std::size_t i = 0; i < shape_.size(); ++i) {
    for (const auto& [first, count] : shape_[i].pages) {
      for (uint64_t f = first; f < first + count; ++f) compare(f);
    }
  }
  for (std::size_t i = 0; i < shape_.size(); ++i) audit_io(i, true);
  touched_.clear();
  built_ = true;
}

void IncrementalAudit::update() {
  recount_roots();
  // A holder's share and verdict depend on its own words and state and on the state of the
  // frames it references (their type decides a linear entry, their owner and type the rules).
  memory_log_.for_each([&](uint64_t f) { redo_.mark(f); });
  frame_log_.for_each([&](uint64_t f) { redo_.mark(f); });
  // A holder whose own words and state did not change keeps its share but for the entries
  // that reference a frame whose state changed: those alone are checked again.
  if (!frame_log_.empty()) {
    for (auto& [frame, holder] : holders_) {
      if (redo_.marked(frame)) continue;
      entries_.clear();
      for (const Ref& r : holder.refs) {
        if (r.entry != audit_detail::kNoEntry && frame_log_.marked(r.frame.value)) {
          entries_.push_back(r.entry);
        }
      }
      if (entries_.empty()) continue;
      if (holder.whole_bad) {
        redo_.mark(frame);  // (which entry broke the rule is not known: redo it whole)
      } else {
        redo_entries(frame, holder, entries_);
      }
    }
  }
  redo_.for_each([&](uint64_t f) { redo_holder(f); });
  redo_.clear();
  // A frame's verdict depends on its state and on the references found to it.
  frame_log_.for_each([&](uint64_t f) { touched_.mark(f); });
  touched_.for_each([&](uint64_t f) { compare(f); });
  touched_.clear();
  for (std::size_t i = 0; i < shape_.size(); ++i) {
    const IoState& io = io_[i];
    const bool walk = domain(i).iommu_root != io.root ||
                      std::any_of(io.tables.begin(), io.tables.end(), [&](uint64_t t) {
                        return memory_log_.marked(t) || frame_log_.marked(t);
                      });
    audit_io(i, walk);
  }
}

void IncrementalAudit::recount_roots() {
  for (const Ref& r : roots_) add(r, true);
  roots_.clear();
  for (std::size_t i = 0; i < shape_.size(); ++i) rules_->vcpu_refs(domain(i), roots_);
  for (const Ref& r : roots_) add(r, false);
}

void IncrementalAudit::redo_holder(uint64_t f) {
  if (const auto it = holders_.find(f); it != holders_.end()) {
    for (const Ref& r : it->second.refs) add(r, true);
    if (it->second.bad()) --bad_holders_;
    holders_.erase(it);
  }
  const PageInfo& pg = xen_.frame_table()[Mfn{f}];
  const std::optional<std::size_t> owner = index_of(pg.owner);
  if (!owner || !in_pages(*owner, f)) return;  // only a domain's own frames hold references
  refs_.clear();
  const bool bad = breaks_rules([&] { rules_->frame_refs(domain(*owner), Mfn{f}, pg, refs_); });
  if (refs_.empty() && !bad) return;
  for (const Ref& r : refs_) add(r, false);
  holders_.emplace(f, Holder{refs_, *owner, level_of(pg.type), bad, {}});
  if (bad) ++bad_holders_;
}

void IncrementalAudit::redo_entries(uint64_t f, Holder& h, std::vector<uint16_t>& entries) {
  std::sort(entries.begin(), entries.end());
  entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
  const bool was_bad = h.bad();
  std::erase_if(h.refs, [&](const Ref& r) {
    if (r.entry == audit_detail::kNoEntry ||
        !std::binary_search(entries.begin(), entries.end(), r.entry)) {
      return false;
    }
    add(r, true);
    return true;
  });
  for (const uint16_t i : entries) {
    refs_.clear();
    const bool bad =
        breaks_rules([&] { rules_->entry_refs(domain(h.domain), Mfn{f}, h.level, i, refs_); });
    for (const Ref& r : refs_) {
      add(r, false);
      h.refs.push_back(r);
    }
    std::erase(h.bad_entries, i);
    if (bad) h.bad_entries.push_back(i);
  }
  if (was_bad != h.bad()) {
    if (h.bad()) {
      ++bad_holders_;
    } else {
      --bad_holders_;
    }
  }
}

void IncrementalAudit::compare(uint64_t f) {
  count_bad_.erase(f);
  const PageInfo& pg = xen_.frame_table()[Mfn{f}];
  const std::optional<std::size_t> owner = index_of(pg.owner);
  const bool member = owner && in_pages(*owner, f);
  const DomId l4_of = member && AuditRules::counts_as_l4(pg) ? pg.owner : kNoOwner;
  if (l4_owner_[f] != l4_of) {
    if (l4_owner_[f] != kNoOwner) --l4_count_[*index_of(l4_owner_[f])];
    if (l4_of != kNoOwner) ++l4_count_[*owner];
    l4_owner_[f] = l4_of;
  }
  if (!member) return;
  if (breaks_rules([&] { rules_->compare_frame(domain(*owner), Mfn{f}, pg, found_[f]); })) {
    count_bad_.insert(f);
  }
}

void IncrementalAudit::audit_io(std::size_t index, bool walk) {
  const Domain& d = domain(index);
  IoState& io = io_[index];
  const FrameTable& ft = xen_.frame_table();
  if (walk) {
    io = IoState{};
    io.root = d.iommu_root;
    if (d.iommu_root == kInvalidMfn) return;
    io.walk_bad = breaks_rules([&] {
      rules_->walk_io(d, io.map, &io.tables);
      for (const auto& r : io.map.runs()) rules_->check_io_beyond_memory(d, r);
    });
    if (!d.need_iommu_sync()) return;
    for (const auto& r : io.map.runs()) {
      const uint64_t in_memory_end = std::min(r.first + r.frames, std::max(r.first, ft.size()));
      ft.for_each(Mfn{r.first}, in_memory_end - r.first,
                  [&](Mfn f, const PageInfo&) { check_io_target(d, io, f.value); });
    }
    for (const auto& [first, count] : shape_[index].pages) {
      for (uint64_t f = first; f < first + count; ++f) check_io_frame(d, io, f);
    }
    return;
  }
  if (d.iommu_root == kInvalidMfn || !d.need_iommu_sync()) return;
  // The mappings are as the last walk found them: only the changed frames' states are new.
  frame_log_.for_each([&](uint64_t f) {
    if (io.map.entry(Mfn{f}) != 0) check_io_target(d, io, f);
    if (in_pages(index, f)) {
      check_io_frame(d, io, f);
    } else {
      io.frames_bad.erase(f);  // (it left the domain)
    }
  });
}

namespace {

void keep_if(std::unordered_set<uint64_t>& frames, uint64_t f, bool bad) {
  if (bad) {
    frames.insert(f);
  } else {
    frames.erase(f);
  }
}

}  // namespace

void IncrementalAudit::check_io_target(const Domain& d, IoState& io, uint64_t f) {
  const PageInfo& pg = xen_.frame_table()[Mfn{f}];
  keep_if(io.unowned, f, breaks_rules([&] { rules_->check_io_target(d, Mfn{f}, pg); }));
}

void IncrementalAudit::check_io_frame(const Domain& d, IoState& io, uint64_t f) {
  const PageInfo& pg = xen_.frame_table()[Mfn{f}];
  const uint64_t entry = io.map.entry(Mfn{f});
  keep_if(io.frames_bad, f, breaks_rules([&] { rules_->check_io_frame(d, Mfn{f}, pg, entry); }));
}

bool IncrementalAudit::clean_now() {
  if (bad_holders_ != 0 || !count_bad_.empty()) return false;
  for (const IoState& io : io_) {
    if (io.walk_bad || !io.unowned.empty() || !io.frames_bad.empty()) return false;
  }
  // The totals and the TLBs are cheap enough to check whole every time.
  return !breaks_rules([&] {
    for (std::size_t i = 0; i < shape_.size(); ++i) {
      rules_->compare_l4_total(domain(i), l4_count_[i]);
    }
    rules_->check_tlbs();
  });
}

}  // namespace pib::xen
