// SPDX-License-Identifier: MIT
#include "workload/trace_replay.hpp"

#include <algorithm>
#include <array>
#include <optional>

#include "common/error.hpp"
#include "common/hex.hpp"
#include "common/text_file.hpp"
#include "workload/snapshot_layout.hpp"
#include "workload/snapshot_process.hpp"

namespace pib::workload {

namespace {

using trace::Kind;
using trace::Record;
using trace::State;
namespace abi = trace::linux_abi;

constexpr std::array<const char*, kReplayKinds> kReplayKindNames = {
    "fork", "exec", "exit", "mmap", "munmap", "mprotect", "brk", "mremap", "madvise", "faults"};

uint32_t prot_bits(uint64_t p) {
  uint32_t out = 0;
  if ((p & abi::kProtRead) != 0) out |= guest::prot::kRead;
  if ((p & abi::kProtWrite) != 0) out |= guest::prot::kWrite;
  if ((p & abi::kProtExec) != 0) out |= guest::prot::kExec;
  return out;
}

std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Pages a file must have so that every mapping of it in the trace lies inside it.
std::map<std::string, uint64_t> file_sizes(const trace::Trace& t) {
  std::map<std::string, uint64_t> pages;
  auto need = [&](const std::string& name, uint64_t offset, uint64_t length) {
    if (name.empty() || name[0] == '[') return;
    const uint64_t end = (offset >> kPageShift) + ((length + kPageSize - 1) >> kPageShift);
    pages[name] = std::max(pages[name], end);
  };
  auto scan = [&](const std::optional<State>& s) {
    if (!s) return;
    for (const auto& m : s->maps) {
      if (m.inode != 0 || (!m.name.empty() && m.name[0] != '[')) {
        need(m.name, m.offset, m.end - m.start);
      }
    }
  };
  for (const Record& r : t.records) {
    if (r.kind == Kind::kMmap && !r.file.empty()) need(r.file, r.offset, r.length);
    scan(r.state);
    scan(r.child_state);
    scan(r.before);
  }
  return pages;
}

class Replayer {
 public:
  Replayer(system::GuestSystem& sys, const trace::Trace& t) : sys_(sys), k_(sys.kernel()), t_(t) {}
  ReplayReport run();

 private:
  void apply(std::size_t index);
  void fork(const Record& r);
  void exec(std::size_t index);
  void exit(const Record& r);
  void mmap(const Record& r, guest::Pid pid);
  void mremap(const Record& r, guest::Pid pid);
  void madvise(const Record& r, guest::Pid pid);

  // The captured process's model pid, or nothing (an event of a process the trace never
  // started: reported, skipped).
  std::optional<guest::Pid> model_pid(const Record& r);
  // Touches what `s` has present and the model not; then compares the footprints.
  void reach(guest::Pid pid, const State& s, const Record& r, const std::string& event);
  void check(guest::Pid pid, const State& s, const Record& r, const std::string& event);
  guest::ExecLayout exec_layout(std::size_t index) const;
  void refuse(const Record& r, const std::string& why);

  // Charges what `fn` does to `kind` and to the program of the process `r` is about.
  template <typename Fn>
  void charged(ReplayKind kind, const Record& r, Fn&& fn) {
    const Counts before = sys_.ledger().counts();
    fn();
    const Counts d = sys_.ledger().since(before);
    Counts& to = report_.counts[static_cast<std::size_t>(kind)];
    Counts& prog = report_.programs[program_of(r.pid)].counts;
    for (std::size_t e = 0; e < d.size(); ++e) {
      to[e] += d[e];
      prog[e] += d[e];
    }
    ++report_.events[static_cast<std::size_t>(kind)];
  }
  const std::string& program_of(int64_t pid) {
    static const std::string unknown = "(before its first exec)";
    const auto it = programs_.find(pid);
    return it == programs_.end() ? unknown : it->second;
  }

  system::GuestSystem& sys_;
  guest::Kernel& k_;
  const trace::Trace& t_;
  std::map<int64_t, guest::Pid> pids_;  // captured process id -> model pid
  std::map<std::string, uint32_t> files_;
  std::map<int64_t, std::string> programs_;  // captured process id -> its program
  ReplayReport report_;
};

std::optional<guest::Pid> Replayer::model_pid(const Record& r) {
  const auto it = pids_.find(r.pid);
  if (it != pids_.end()) return it->second;
  refuse(r, "an event of process " + std::to_string(r.pid) + ", which the trace never started");
  return std::nullopt;
}

void Replayer::refuse(const Record& r, const std::string& why) {
  ++report_.refusal_count;
  if (report_.refusals.size() < ReplayReport::kMaxKept) {
    report_.refusals.push_back(t_.origin + ":" + std::to_string(r.line) + ": " +
                               trace::kind_name(r.kind) + ": " + why);
  }
}

void Replayer::check(guest::Pid pid, const State& s, const Record& r, const std::string& event) {
  ++report_.checks;
  const uint64_t model = k_.mm(pid).pt_pages_below_pgd();
  const uint64_t recorded = s.vmpte_kb / 4;
  if (model == recorded) return;
  ++report_.mismatch_count;
  if (report_.mismatches.size() < ReplayReport::kMaxKept) {
    report_.mismatches.push_back({r.line, r.pid, event, model, recorded});
  }
}

void Replayer::reach(guest::Pid pid, const State& s, const Record& r, const std::string& event) {
  charged(ReplayKind::kTouch, r, [&] {
    const std::vector<snapshot::MapEntry> maps = merge_special_mappings(s.maps);
    // The stack grows on faults below it: as far as the capture saw it.
    for (const auto& m : maps) {
      if (m.name == "[stack]") k_.expand_stack(pid, m.start);
    }
    for (const snapshot::PageRun& run : s.runs) {
      for (uint64_t i = 0; i < run.pages; ++i) {
        const uint64_t va = run.start + i * kPageSize;
        if (va >= guest::kTaskSize) break;
        if (k_.pte_of(pid, va).present()) continue;
        const guest::Vma* v = k_.mm(pid).find_vma(va);
        if (v == nullptr || v->prot == 0) {
          ++report_.pages_outside;
          continue;
        }
        ++report_.pages_touched;
        const bool anon_private =
            !run.file_or_shared_anon && !v->shared && v->kind != guest::VmaKind::kSpecial;
        // An anonymous page in code that is not writable is a breakpoint or patch of the
        // capturing machine's tools: the file page it shadows (as for snapshots).
        const bool shadowed_code = (v->prot & guest::prot::kExec) != 0 && !v->writable();
        bool ok = false;
        if (anon_private && v->writable()) {
          ok = k_.store(pid, va, va);
        } else if ((v->prot & guest::prot::kRead) == 0 && (v->prot & guest::prot::kExec) != 0) {
          ok = k_.fetch(pid, va);
        } else {
          if (anon_private && !shadowed_code) ++report_.pages_read_only;
          ok = k_.load(pid, va).has_value();
        }
        if (!ok) refuse(r, "could not touch " + hex(va) + " in " + v->name);
      }
    }
  });
  check(pid, s, r, event);
}

guest::ExecLayout Replayer::exec_layout(std::size_t index) const {
  const Record& r = t_.records[index];
  guest::ExecLayout l;
  l.comm = base_name(r.path);
  uint64_t image_end = 0;
  const snapshot::MapEntry* stack = nullptr;
  std::vector<snapshot::MapEntry> maps = merge_special_mappings(r.state->maps);
  for (const auto& m : maps) {
    if (m.start >= guest::kTaskSize) continue;  // [vsyscall] is the kernel's
    l.vmas.push_back(vma_of_map(m, k_.page_cache()));
    if (m.name == r.path) image_end = std::max(image_end, m.end);
    if (m.name == "[stack]") stack = &m;
  }
  if (stack == nullptr) {
    throw InputError(t_.origin + ":" + std::to_string(r.line) + ": exec state has no [stack]");
  }
  // The pages the kernel wrote at the stack top: the argument and environment strings, then the
  // ELF tables below them.
  l.arg_pages = 0;
  for (uint64_t va = stack->end; va > stack->start; va -= kPageSize) {
    bool present = false;
    for (const auto& run : r.state->runs) {
      if (va - kPageSize >= run.start && va - kPageSize < run.start + run.pages * kPageSize) {
        present = true;
      }
    }
    if (!present) break;
    ++l.arg_pages;
  }
  // Of the present pages at the top, the lowest is where create_elf_tables' argv/envp/auxv
  // spilled below the strings when there are several (about 500 bytes: at most one page); the
  // strings took the rest. The spill page then comes from the replay's touches.
  l.arg_pages = l.arg_pages >= 2 ? l.arg_pages - 1 : 1;
  // The heap starts where the program's first brk(0) says (the kernel randomised it); without
  // one, right after the image.
  l.brk_start = image_end;
  for (std::size_t i = index + 1; i < t_.records.size(); ++i) {
    const Record& n = t_.records[i];
    if (n.pid != r.pid) continue;
    if (n.kind == Kind::kExec) break;
    if (n.kind == Kind::kBrk && n.addr == 0 && n.result > 0) {
      l.brk_start = static_cast<uint64_t>(n.result);
      break;
    }
  }
  return l;
}

void Replayer::fork(const Record& r) {
  if (r.kind == Kind::kThread) {
    ++report_.threads;  // shares the address space: its calls are the process's
    return;
  }
  const std::optional<guest::Pid> parent = model_pid(r);
  if (!parent) return;
  if (r.state) reach(*parent, *r.state, r, "parent at fork");
  guest::Pid child = 0;
  charged(ReplayKind::kFork, r,
          [&] { child = r.kind == Kind::kVfork ? k_.vfork(*parent) : k_.fork(*parent); });
  pids_[r.child] = child;
  if (programs_.count(r.pid) != 0) programs_[r.child] = programs_[r.pid];
  ++report_.processes;
  if (r.child_state) {
    Record at_child = r;
    at_child.pid = r.child;
    check(child, *r.child_state, at_child, "child after fork");
  }
}

void Replayer::exec(std::size_t index) {
  const Record& r = t_.records[index];
  const guest::ExecLayout layout = exec_layout(index);
  const auto it = pids_.find(r.pid);
  if (it == pids_.end()) {
    guest::Pid pid = 0;
    programs_[r.pid] = r.path;
    ++report_.programs[r.path].execs;
    charged(ReplayKind::kExec, r, [&] { pid = k_.spawn_exec_layout(layout); });
    pids_[r.pid] = pid;
    ++report_.processes;
  } else {
    if (r.before) reach(it->second, *r.before, r, "before exec");
    programs_[r.pid] = r.path;
    ++report_.programs[r.path].execs;
    charged(ReplayKind::kExec, r, [&] { k_.exec_layout(it->second, layout); });
  }
  reach(pids_.at(r.pid), *r.state, r, "after exec of " + r.path);
}

void Replayer::exit(const Record& r) {
  const std::optional<guest::Pid> pid = model_pid(r);
  if (!pid) return;
  if (r.state) reach(*pid, *r.state, r, "at exit");
  charged(ReplayKind::kExit, r, [&] { k_.exit(*pid); });
  pids_.erase(r.pid);
}

void Replayer::mmap(const Record& r, guest::Pid pid) {
  guest::MapRequest req;
  req.length = r.length;
  req.prot = prot_bits(r.arg);
  req.shared = (r.flags & abi::kMapShared) != 0;
  req.fixed_address = static_cast<uint64_t>(r.result);
  const bool anonymous =
      (r.flags & abi::kMapAnonymous) != 0 || r.file.empty() || r.file == "/dev/zero";
  if (!anonymous) {
    auto f = files_.find(r.file);
    if (f == files_.end()) {
      f = files_.emplace(r.file, k_.page_cache().file(r.file, 1)).first;
    }
    req.file = f->second;
    req.file_page = r.offset >> kPageShift;
  }
  charged(ReplayKind::kMmap, r, [&] { k_.mmap(pid, req); });
}

void Replayer::mremap(const Record& r, guest::Pid pid) {
  const auto result = static_cast<uint64_t>(r.result);
  if (result == r.addr) {
    charged(ReplayKind::kMremap, r, [&] { k_.mremap_in_place(pid, r.addr, r.length, r.arg); });
    return;
  }
  const bool keep_old = (r.flags & abi::kMremapDontunmap) != 0;
  // move_normal_pmd: where the moved range covers an aligned 2 MiB on both sides Linux moves the
  // whole L1 table; the model moves its PTEs one by one (the same footprint afterwards, one
  // more table allocated and freed on the way).
  const uint64_t pmd = 2ULL << 20;
  if (r.length >= pmd && (r.addr % pmd) == (result % pmd)) {
    ++report_.approximations["mremap moves with whole 2 MiB tables (moved PTE by PTE)"];
  }
  charged(ReplayKind::kMremap, r,
          [&] { k_.mremap_move(pid, r.addr, r.length, r.arg, result, keep_old); });
}

void Replayer::madvise(const Record& r, guest::Pid pid) {
  if (r.arg == abi::kMadvDontneed || r.arg == abi::kMadvRemove) {
    charged(ReplayKind::kMadvise, r, [&] { k_.madvise_dontneed(pid, r.addr, r.length); });
    return;
  }
  if (r.arg == abi::kMadvFree) {
    // Lazy freeing keeps the PTEs until reclaim; the model has no reclaim of anonymous memory.
    ++report_.approximations["MADV_FREE (no page-table change modelled)"];
  }
  ++report_.events[static_cast<std::size_t>(ReplayKind::kMadvise)];
}

void Replayer::apply(std::size_t index) {
  const Record& r = t_.records[index];
  switch (r.kind) {
    case Kind::kStart: {
      const guest::Pid pid = build_snapshot_process(sys_, r.state->to_snapshot(t_.origin));
      pids_[r.pid] = pid;
      programs_[r.pid] = "(snapshot)";
      ++report_.processes;
      check(pid, *r.state, r, "start");
      return;
    }
    case Kind::kFork:
    case Kind::kVfork:
    case Kind::kThread:
      fork(r);
      return;
    case Kind::kExec:
      exec(index);
      return;
    case Kind::kExit:
      exit(r);
      return;
    case Kind::kWait:
      return;  // the model frees an mm at exit, not when the parent reaps
    default:
      break;
  }
  const std::optional<guest::Pid> pid = model_pid(r);
  if (!pid) return;
  if (r.state) reach(*pid, *r.state, r, std::string("before ") + trace::kind_name(r.kind));
  switch (r.kind) {
    case Kind::kMmap:
      mmap(r, *pid);
      return;
    case Kind::kMunmap:
      charged(ReplayKind::kMunmap, r, [&] { k_.munmap(*pid, r.addr, r.length); });
      return;
    case Kind::kMprotect:
      charged(ReplayKind::kMprotect, r,
              [&] { k_.mprotect(*pid, r.addr, r.length, prot_bits(r.arg)); });
      return;
    case Kind::kBrk:
      if (r.addr != 0) {
        charged(ReplayKind::kBrk, r, [&] { k_.brk(*pid, static_cast<uint64_t>(r.result)); });
      }
      return;
    case Kind::kMremap:
      mremap(r, *pid);
      return;
    case Kind::kMadvise:
      madvise(r, *pid);
      return;
    default:
      return;
  }
}

ReplayReport Replayer::run() {
  for (const auto& [name, pages] : file_sizes(t_)) {
    files_[name] = k_.page_cache().file(name, std::max<uint64_t>(pages, 1));
  }
  for (std::size_t i = 0; i < t_.records.size(); ++i) {
    try {
      apply(i);
    } catch (const InputError& e) {
      refuse(t_.records[i], e.what());
    }
  }
  // Processes the trace leaves running (daemons started by the command) end here.
  for (const auto& [captured, live] : pids_) {
    Record end;
    end.pid = captured;
    const guest::Pid pid = live;
    charged(ReplayKind::kExit, end, [&] { k_.exit(pid); });
  }
  pids_.clear();
  k_.quiesce();
  return report_;
}

}  // namespace

const char* replay_kind_name(ReplayKind k) {
  return kReplayKindNames.at(static_cast<std::size_t>(k));
}

ReplayReport replay_trace(system::GuestSystem& sys, const trace::Trace& t) {
  return Replayer(sys, t).run();
}

trace::Trace load_trace_or_snapshot(const std::string& path, const std::string& snapshot_op) {
  const std::string text = read_text_file(path, "trace");
  // A trace's first line is its header object; a snapshot is one JSON object with VmPTE_kB.
  const std::string first = text.substr(0, text.find('\n'));
  if (first.find("\"format\"") == std::string::npos &&
      text.find("\"VmPTE_kB\"") != std::string::npos) {
    return trace::from_snapshot(snapshot::parse(text, path), snapshot_op);
  }
  return trace::parse(text, path);
}

ReplayWorkload::ReplayWorkload(const Params& params) {
  const std::string path = params.str("trace", "");
  if (path.empty()) throw InputError("workload trace.replay needs the parameter trace=FILE");
  trace_ = load_trace_or_snapshot(path, params.str("op", "fork_exit"));
}

std::string ReplayWorkload::operation() const {
  std::string cmd;
  for (const std::string& a : trace_.header.command) cmd += (cmd.empty() ? "" : " ") + a;
  return "replay of " + (cmd.empty() ? trace_.origin : cmd);
}

void ReplayWorkload::iteration(system::GuestSystem& sys) {
  report_ = replay_trace(sys, trace_);
}

}  // namespace pib::workload
