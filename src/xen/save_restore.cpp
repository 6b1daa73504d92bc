// SPDX-License-Identifier: MIT
#include "xen/save_restore.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/hex.hpp"

namespace pib::xen {

namespace {

using hw::pte_bits::kAddrMask;
using hw::pte_bits::kPresent;
using hw::pte_bits::kPse;

// One page of the stream: its pfn, the frame it lives in now and the one it will live in.
struct StreamPage {
  Pfn pfn;
  Mfn from;
  Mfn to = kInvalidMfn;
  PageType table = PageType::kNone;  // kL1..kL4: sent normalised (getpageframeinfo3's LxTAB)
  bool pinned = false;               // ... and pinned (LPINTAB): the restore pins it
};

constexpr uint64_t with_frame(uint64_t entry, uint64_t frame) {
  return (entry & ~kAddrMask) | ((frame << kPageShift) & kAddrMask);
}

class LocalMigration {
 public:
  LocalMigration(Hypervisor& xen, DomId id) : xen_(xen), old_(xen.domain(id)) {}

  SaveRestoreResult run() {
    if (old_.dying || old_.shutdown_reason != abi::kShutdownSuspend) {
      return fail(abi::err::kEINVAL, "domain " + std::to_string(old_.id) +
                                         " is not suspended (sched_op SHUTDOWN_suspend)");
    }
    if (!old_.devices.empty()) {
      return fail(abi::err::kEBUSY, "domain " + std::to_string(old_.id) + " has " +
                                        std::to_string(old_.devices.size()) +
                                        " device(s) assigned; their state cannot be migrated");
    }
    list_pages();
    for (StreamPage& p : pages_) {
      if (p.table != PageType::kNone && !normalise(p)) return result_;
    }
    if (!allocate()) return result_;
    for (const StreamPage& p : pages_) write_page(p);
    if (!pin_tables() || !restore_vcpus()) {
      xen_.destroy_domain(result_.domain);
      return result_;
    }
    xen_.destroy_domain(old_.id);
    xen_.set_port_domain(result_.domain);
    result_.pages = pages_.size();
    return result_;
  }

 private:
  SaveRestoreResult fail(int64_t rc, std::string what) {
    result_.rc = rc;
    result_.what = "save/restore: " + std::move(what);
    return result_;
  }

  // The pages the toolstack sends, in pfn order, with what getpageframeinfo3 says of each:
  // a table type only for a table that is pinned or validated (Xen 4.16+; a stale type
  // left on a freed table would otherwise be normalised).
  void list_pages() {
    const FrameTable& frames = xen_.frame_table();
    for (const Mfn m : old_.pages) {
      const PageInfo& info = frames[m];
      if (info.owner != old_.id || !info.allocated) continue;
      StreamPage p{xen_.machine_to_phys(m), m};
      if (is_pt_type(info.type) && (info.pinned || info.validated)) {
        p.table = info.type;
        p.pinned = info.pinned;
      }
      pages_.push_back(p);
    }
    std::sort(pages_.begin(), pages_.end(),
              [](const StreamPage& a, const StreamPage& b) { return a.pfn < b.pfn; });
  }

  // The stream page of a pfn of the domain, or nullptr.
  const StreamPage* page_of(Pfn pfn) const {
    const auto it = std::lower_bound(pages_.begin(), pages_.end(), pfn,
                                     [](const StreamPage& e, Pfn p) { return e.pfn < p; });
    return it != pages_.end() && it->pfn == pfn ? &*it : nullptr;
  }

  // normalise_pagetable: each present entry's frame becomes its pfn; Xen's slots go.
  bool normalise(StreamPage& p) {
    const unsigned level = level_of(p.table);
    auto& entries = normalised_[p.pfn.value];
    entries.assign(kEntriesPerTable, 0);
    const hw::MachineMemory& mem = xen_.machine().memory();
    for (uint64_t i = 0; i < kEntriesPerTable; ++i) {
      const uint64_t e = mem.read_entry(p.from, i);
      if (level == 4 && !is_guest_l4_slot(i)) continue;  // Xen rebuilds its own on validation
      if ((e & kPresent) == 0) {
        entries[i] = e;
        continue;
      }
      if (level > 1 && (e & kPse) != 0) {
        fail(abi::err::kE2BIG, "cannot migrate superpage (L" + std::to_string(level) + "[" +
                                   std::to_string(i) + "] = " + hex(e) + ")");
        return false;
      }
      const Mfn target{(e & kAddrMask) >> kPageShift};
      const Pfn pfn = xen_.machine_to_phys(target);
      const StreamPage* back = pfn == kInvalidPfn ? nullptr : page_of(pfn);
      if (back == nullptr || back->from != target) {
        fail(abi::err::kERANGE, "bad mfn for L" + std::to_string(level) + "[" + std::to_string(i) +
                                    "] of pfn " + hex(p.pfn.value) + ": " + hex(target.value) +
                                    " is not the domain's");
        return false;
      }
      entries[i] = with_frame(e, pfn.value);
    }
    ++result_.page_tables;
    return true;
  }

  // The new domain, with a frame for every pfn sent, and its p2m (holes stay invalid).
  bool allocate() {
    result_.domain = xen_.create_domain(old_.config);
    Domain& d = xen_.domain(result_.domain);
    std::size_t next = 0;
    while (next < pages_.size()) {
      uint64_t got = 0;
      const Mfn first = xen_.alloc_domheap_run(d, pages_.size() - next, &got);
      if (got == 0) {
        xen_.destroy_domain(result_.domain);
        fail(abi::err::kENOMEM, "the machine has no room for a second copy of domain " +
                                    std::to_string(old_.id) + " (" + std::to_string(pages_.size()) +
                                    " pages)");
        return false;
      }
      for (uint64_t i = 0; i < got; ++i) pages_[next + i].to = Mfn{first.value + i};
      next += got;
    }
    uint64_t pfn = 0;
    for (const StreamPage& p : pages_) {
      for (; pfn < p.pfn.value; ++pfn) result_.p2m.push_back(kInvalidMfn);
      xen_.set_m2p(p.to, p.pfn);
      result_.p2m.push_back(p.to);
      ++pfn;
    }
    return true;
  }

  // localise_pagetable for a table (each pfn becomes its new frame), the bytes as they are
  // for any other page.
  void write_page(const StreamPage& p) {
    hw::MachineMemory& mem = xen_.machine().memory();
    if (p.table == PageType::kNone) {
      const uint64_t* words = mem.frame_words(p.from);
      if (words == nullptr) return;  // all zeros: the new frame reads as zeros too
      for (uint64_t i = 0; i < kEntriesPerTable; ++i) mem.write_entry(p.to, i, words[i]);
      return;
    }
    const auto& entries = normalised_.at(p.pfn.value);
    for (uint64_t i = 0; i < kEntriesPerTable; ++i) {
      uint64_t e = entries[i];
      if ((e & kPresent) != 0) {
        e = with_frame(e, page_of(Pfn{(e & kAddrMask) >> kPageShift})->to.value);
      }
      mem.write_entry(p.to, i, e);
    }
  }

  // pin_pagetables: every table that was pinned, at its level, in pfn order.
  bool pin_tables() {
    Domain& d = xen_.domain(result_.domain);
    for (const StreamPage& p : pages_) {
      if (!p.pinned) continue;
      const int64_t rc = xen_.toolstack_pin(d, p.to, p.table);
      if (rc != abi::err::kOk) {
        fail(rc, "the pin of pfn " + hex(p.pfn.value) + " as an L" +
                     std::to_string(level_of(p.table)) + " table was refused");
        return false;
      }
      ++result_.pinned;
    }
    return true;
  }

  // The vCPU contexts: their root tables, from pfns back to the new frames.
  bool restore_vcpus() {
    Domain& d = xen_.domain(result_.domain);
    auto localise = [&](Mfn old) -> Mfn {
      if (old == kInvalidMfn) return kInvalidMfn;
      const StreamPage* p = page_of(xen_.machine_to_phys(old));
      return p != nullptr ? p->to : kInvalidMfn;
    };
    for (const Vcpu& v : old_.vcpus) {
      if (!v.online) continue;
      const Mfn kernel = localise(v.guest_table);
      const int64_t rc = kernel == kInvalidMfn
                             ? abi::err::kEINVAL
                             : xen_.toolstack_set_vcpu_tables(
                                   d, v.id, kernel, localise(v.guest_table_user), v.in_kernel);
      if (rc != abi::err::kOk) {
        fail(rc, "vcpu " + std::to_string(v.id) + "'s root tables were refused");
        return false;
      }
    }
    return true;
  }

  Hypervisor& xen_;
  const Domain& old_;
  std::vector<StreamPage> pages_;                         // sorted by pfn
  std::map<uint64_t, std::vector<uint64_t>> normalised_;  // pfn -> its table, normalised
  SaveRestoreResult result_;
};

}  // namespace

SaveRestoreResult save_restore_local(Hypervisor& xen, DomId id) {
  return LocalMigration(xen, id).run();
}

}  // namespace pib::xen
