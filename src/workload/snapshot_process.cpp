// SPDX-License-Identifier: MIT
#include "workload/snapshot_process.hpp"

#include <algorithm>
#include <map>

#include "common/error.hpp"
#include "workload/snapshot_layout.hpp"

namespace pib::workload {

namespace {

using guest::Vma;
using guest::VmaKind;

uint32_t prot_of(const std::string& perms) {
  uint32_t p = 0;
  if (perms[0] == 'r') p |= guest::prot::kRead;
  if (perms[1] == 'w') p |= guest::prot::kWrite;
  if (perms[2] == 'x') p |= guest::prot::kExec;
  return p;
}

bool is_special(const std::string& name) {
  return name == "[vvar]" || name == "[vdso]";
}

}  // namespace

guest::Vma vma_of_map(const snapshot::MapEntry& m, guest::PageCache& cache) {
  Vma v;
  v.start = m.start;
  v.end = m.end;
  v.prot = prot_of(m.perms);
  v.shared = m.perms[3] == 's';
  v.name = m.name.empty() ? "[anon]" : m.name;
  const uint64_t pages = (m.end - m.start) >> kPageShift;
  if (m.name == "[heap]") {
    v.kind = VmaKind::kHeap;
  } else if (m.name == "[stack]") {
    v.kind = VmaKind::kStack;
  } else if (m.name == "[vvar]") {
    v.kind = VmaKind::kSpecial;  // VM_PFNMAP: copied at fork
    v.shared = true;
    v.file = cache.file(m.name, pages);
  } else if (m.name == "[vdso]") {
    v.kind = VmaKind::kFile;
    v.file = cache.file(m.name, pages);
    v.map_pages = false;  // a special mapping: no fault-around
  } else if (m.inode != 0 || (!m.name.empty() && m.name[0] != '[')) {
    v.kind = VmaKind::kFile;
    v.pgoff = m.offset >> kPageShift;
    v.file = cache.file(m.name, v.pgoff + pages);
  } else if (v.shared) {
    v.kind = VmaKind::kFile;  // shared anonymous memory: a shmem file
    v.file = cache.file("[shmem:" + std::to_string(m.start) + "]", pages);
  } else {
    v.kind = VmaKind::kAnon;
  }
  return v;
}

guest::Pid build_snapshot_process(system::GuestSystem& sys, const snapshot::Snapshot& snap,
                                  VcpuId cpu, SnapshotPlacement placement) {
  guest::Kernel& k = sys.kernel();
  const PlacedLayout placed = place_snapshot(snap.vmas, k.aslr(), placement);
  const std::vector<snapshot::MapEntry>& layout = placed.vmas;
  std::vector<Vma> vmas;
  uint64_t brk_start = 0, brk = 0;
  for (const auto& m : layout) {
    const Vma v = vma_of_map(m, k.page_cache());
    if (v.kind == VmaKind::kHeap) {
      brk_start = m.start;
      brk = m.end;
    }
    vmas.push_back(v);
  }
  if (brk_start == 0 && !vmas.empty()) {
    // No heap yet: brk starts after the highest mapping of the program image.
    for (const Vma& v : vmas) {
      if (v.start < 0x100000000ULL && v.end > brk_start) brk_start = brk = v.end;
    }
  }
  const guest::Pid pid =
      k.spawn_layout(vmas, brk_start, brk, cpu, placed.stack_top, placed.mmap_base);
  // Present pages. A read-only VMA with anonymous pages is made writable once as a whole (no
  // split) while they are written, as relocation before RELRO's mprotect did.
  std::map<uint64_t, std::vector<uint64_t>> relocated;  // read-only VMA start -> its anon pages
  for (const auto& run : snap.page_runs) {
    if (!run.present) continue;
    for (uint64_t i = 0; i < run.pages; ++i) {
      const uint64_t va = placed.translate(run.start + i * kPageSize);
      const guest::Vma* v = k.mm(pid).find_vma(va);
      if (v == nullptr) {
        throw InputError(snap.origin + ": present page " + std::to_string(va) +
                         " outside every VMA");
      }
      // An anonymous page inside executable, read-only code is taken as the file page it
      // shadows: the traced run copied no program text at fork (docs/fidelity.md).
      const bool shadowed_code = (v->prot & guest::prot::kExec) != 0 && !v->writable();
      if (run.file_or_shared_anon || v->kind == VmaKind::kSpecial || shadowed_code) {
        if (!k.load(pid, va)) model_bug("snapshot page read failed");
        continue;
      }
      if (v->writable()) {
        if (!k.store(pid, va, va)) model_bug("snapshot page write failed");
        continue;
      }
      relocated[v->start].push_back(va);
    }
  }
  for (const auto& [start, pages] : relocated) {
    const guest::Vma v = k.mm(pid).vmas.at(start);
    k.mprotect(pid, v.start, v.end - v.start, v.prot | guest::prot::kWrite);
    for (const uint64_t va : pages) {
      if (!k.store(pid, va, va)) model_bug("snapshot page write failed");
    }
    k.mprotect(pid, v.start, v.end - v.start, v.prot);
  }
  // The special mappings' pages. Snapshots taken with `pibooster snapshot` list the ones the
  // process touched (pagemap reports them) and were faulted in above; the ground truth's omit
  // them, so there the model touches what the program's clock reads use: the vDSO's code and
  // the vvar data and Xen pvclock pages.
  bool lists_special = false;
  for (const auto& run : snap.page_runs) {
    const uint64_t first = placed.translate(run.start);
    const uint64_t end = first + run.pages * kPageSize;
    for (const auto& m : layout) {
      if (run.present && is_special(m.name) && first < m.end && m.start < end) lists_special = true;
    }
  }
  for (const auto& m : layout) {
    if (lists_special || !is_special(m.name)) continue;
    const uint64_t touched = m.name == "[vdso]" ? (m.end - m.start) >> kPageShift : 2;
    for (uint64_t i = 0; i < touched; ++i) {
      const uint64_t va = m.start + i * kPageSize;
      const bool ok = m.name == "[vdso]" ? k.fetch(pid, va) : k.load(pid, va).has_value();
      if (!ok) model_bug("special mapping touch failed");
    }
  }
  return pid;
}

SnapshotOp snapshot_op_by_name(const std::string& name) {
  if (name == "fork_exit" || name == "heap64") return SnapshotOp::kForkExit;
  if (name == "fork_exec") return SnapshotOp::kForkExec;
  if (name == "vfork_exec") return SnapshotOp::kVforkExec;
  if (name == "mmap_touch") return SnapshotOp::kMmapTouch;
  if (name == "brk_cycle") return SnapshotOp::kBrkCycle;
  if (name == "mprotect_cycle") return SnapshotOp::kMprotectCycle;
  if (name == "munmap_partial") return SnapshotOp::kMunmapPartial;
  throw InputError("unknown snapshot operation '" + name +
                   "' (valid: fork_exit, fork_exec, vfork_exec, mmap_touch, brk_cycle, "
                   "mprotect_cycle, munmap_partial)");
}

std::string SnapshotWorkload::operation() const {
  switch (op_) {
    case SnapshotOp::kForkExit:
      return "fork+exit";
    case SnapshotOp::kForkExec:
      return "fork+execve";
    case SnapshotOp::kVforkExec:
      return "vfork+execve";
    case SnapshotOp::kMmapTouch:
      return "mmap+touch+munmap";
    case SnapshotOp::kBrkCycle:
      return "sbrk+touch+sbrk-";
    case SnapshotOp::kMprotectCycle:
      return "mprotect RO+RW+write";
    case SnapshotOp::kMunmapPartial:
      return "mmap+touch+munmap 3+1 MiB";
  }
  return "?";
}

void SnapshotWorkload::setup(system::GuestSystem& sys) {
  pid_ = build_snapshot_process(sys, snap_, 0, placement_);
  tiny_ = guest::builtin_image("tiny-static");
  if (op_ == SnapshotOp::kMprotectCycle) {
    // The area bench2.c's set-up mapped and touched: the snapshot's 2 MiB private anonymous
    // read-write mapping.
    for (const auto& [start, v] : sys.kernel().mm(pid_).vmas) {
      if (v.kind == VmaKind::kAnon && !v.shared && v.writable() && v.pages() == 512) {
        mprotect_area_ = start;
      }
    }
    if (mprotect_area_ == 0) {
      throw InputError(snap_.origin +
                       ": mprotect_cycle needs the 2 MiB anonymous mapping "
                       "the benchmark set up, and the snapshot has none");
    }
  }
}

void SnapshotWorkload::loop_writes(guest::Kernel& k, guest::Pid pid, uint64_t pages) {
  // The stack top first, then writable private pages in address order (data, bss, heap).
  const guest::Mm& mm = k.mm(pid);
  uint64_t left = pages;
  for (auto it = mm.vmas.rbegin(); it != mm.vmas.rend() && left > 0; ++it) {
    if (it->second.kind != VmaKind::kStack) continue;
    if (!k.store(pid, it->second.end - kPageSize + 64, pid)) model_bug("stack write failed");
    --left;
  }
  for (const auto& [start, v] : mm.vmas) {
    if (left == 0) break;
    if (!v.writable() || v.shared || v.kind == VmaKind::kStack) continue;
    for (uint64_t va = v.start; va < v.end && left > 0; va += kPageSize) {
      if (k.pte_of(pid, va) == hw::Pte{}) continue;  // only pages the program already has
      if (!k.store(pid, va + 128, pid)) model_bug("data write failed");
      --left;
    }
  }
}

void SnapshotWorkload::run_text(guest::Kernel& k, guest::Pid pid, uint64_t windows) {
  const guest::Vma* text = nullptr;
  for (const auto& [start, v] : k.mm(pid).vmas) {
    if ((v.prot & guest::prot::kExec) != 0 && v.kind == VmaKind::kFile && v.map_pages) {
      text = &v;
      break;
    }
  }
  if (text == nullptr) return;
  const uint64_t window = guest::kFaultAroundPages * kPageSize;
  const uint64_t span = text->end - text->start;
  for (uint64_t i = 0; i < windows; ++i) {
    // Window i of `windows` spread over the text; the first holds the text's first page.
    const uint64_t va = std::max(text->start, (text->start + span * i / windows) & ~(window - 1));
    if (!k.fetch(pid, va)) model_bug("text fetch failed");
  }
}

void SnapshotWorkload::iteration(system::GuestSystem& sys) {
  guest::Kernel& k = sys.kernel();
  switch (op_) {
    case SnapshotOp::kForkExit: {
      const guest::Pid c = k.fork(pid_);
      loop_writes(k, pid_, loop_.parent_pages_before_wait);
      loop_writes(k, c, loop_.child_pages);
      run_text(k, c, loop_.child_text_windows);
      k.exit(c);
      k.schedule(pid_);
      loop_writes(k, pid_, loop_.parent_pages_after_wait);
      break;
    }
    case SnapshotOp::kForkExec:
    case SnapshotOp::kVforkExec: {
      const guest::Pid c = op_ == SnapshotOp::kForkExec ? k.fork(pid_) : k.vfork(pid_);
      if (op_ == SnapshotOp::kForkExec) {
        loop_writes(k, pid_, loop_.parent_pages_before_wait);
        loop_writes(k, c, 1);
      }
      k.exec(c, tiny_);
      k.run_startup(c, tiny_);
      k.exit(c);
      k.schedule(pid_);
      loop_writes(k, pid_, loop_.parent_pages_after_wait);
      break;
    }
    case SnapshotOp::kMmapTouch: {
      const uint64_t len = 2ULL << 20;
      const uint64_t a = k.mmap(pid_, guest::MapRequest::anonymous(len));
      for (uint64_t off = 0; off < len; off += kPageSize) {
        if (!k.store(pid_, a + off, 1)) model_bug("mmap_touch write failed");
      }
      k.munmap(pid_, a, len);
      break;
    }
    case SnapshotOp::kBrkCycle: {
      const uint64_t len = 4ULL << 20;
      const uint64_t start = k.brk(pid_, 0);
      k.brk(pid_, start + len);
      for (uint64_t off = 0; off < len; off += kPageSize) {
        if (!k.store(pid_, start + off, 1)) model_bug("brk_cycle write failed");
      }
      k.brk(pid_, start);
      break;
    }
    case SnapshotOp::kMprotectCycle: {
      const uint64_t len = 2ULL << 20;
      k.mprotect(pid_, mprotect_area_, len, guest::prot::kRead);
      k.mprotect(pid_, mprotect_area_, len, guest::prot::kRead | guest::prot::kWrite);
      for (uint64_t off = 0; off < len; off += kPageSize) {
        if (!k.store(pid_, mprotect_area_ + off, 2)) model_bug("mprotect_cycle write failed");
      }
      break;
    }
    case SnapshotOp::kMunmapPartial: {
      const uint64_t mib = 1ULL << 20;
      const uint64_t a = k.mmap(pid_, guest::MapRequest::anonymous(4 * mib));
      for (uint64_t off = 0; off < 4 * mib; off += kPageSize) {
        if (!k.store(pid_, a + off, 1)) model_bug("munmap_partial write failed");
      }
      k.munmap(pid_, a, 3 * mib);
      k.munmap(pid_, a + 3 * mib, mib);
      break;
    }
  }
}

}  // namespace pib::workload
