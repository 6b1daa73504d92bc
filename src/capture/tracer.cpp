// SPDX-License-Identifier: MIT
// The ptrace loop of `pibooster capture`. Every task of the traced tree is stopped by the
// kernel at: a filtered system call's entry (PTRACE_EVENT_SECCOMP), that call's exit (asked for
// with PTRACE_SYSCALL when its result matters), fork/vfork/clone, a successful exec, and its
// exit (PTRACE_EVENT_EXIT, while the address space is still there). At each stop that is a
// capture point the process's /proc files are read before it is let go.
#include "capture/tracer.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>

#include "capture/syscall_filter.hpp"
#include "common/error.hpp"
#include "trace/trace.hpp"

namespace pib::capture {

namespace {

using trace::Kind;
using trace::Record;
namespace abi = trace::linux_abi;

std::string read_small_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The bracketed choice of a sysfs multiple-choice file ("always [madvise] never").
std::string chosen(const std::string& text) {
  const auto a = text.find('[');
  const auto b = text.find(']');
  if (a == std::string::npos || b == std::string::npos || b < a) return text;
  return text.substr(a + 1, b - a - 1);
}

std::string link_target(const std::string& path) {
  char buf[PATH_MAX];
  const ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return {};
  return std::string(buf, static_cast<std::size_t>(n));
}

// A C string in the tracee's memory (for execve's file name), at most PATH_MAX bytes.
std::string read_string(pid_t tid, uint64_t addr) {
  std::string out;
  while (out.size() < PATH_MAX) {
    errno = 0;
    const long word = ptrace(PTRACE_PEEKDATA, tid, addr + out.size(), nullptr);
    if (errno != 0) break;
    for (std::size_t i = 0; i < sizeof word; ++i) {
      const char c = static_cast<char>((static_cast<unsigned long>(word) >> (8 * i)) & 0xff);
      if (c == '\0') return out;
      out.push_back(c);
    }
  }
  return out;
}

// madvise advice that removes pages from the page tables: DONTNEED, FREE, REMOVE, COLD,
// PAGEOUT, DONTNEED_LOCKED (include/uapi/asm-generic/mman-common.h).
bool drops_pages(uint64_t advice) {
  return advice == 4 || advice == 8 || advice == 9 || advice == 20 || advice == 21 || advice == 24;
}

struct Task {
  pid_t tgid = 0;
  bool expect_initial_stop = false;  // its first stop is the SIGSTOP every new tracee gets
  bool borrows_mm = false;           // a vfork child before its exec
  bool has_image = true;             // false for the first process until it execs the command
  std::optional<Record> pending;     // a call seen at entry, waiting for its result
  long nr = -1;
  std::optional<trace::State> before;  // execve: the address space it is about to drop
};

class Tracer {
 public:
  explicit Tracer(std::ostream& out) : out_(out) {}
  CaptureSummary run(const CaptureOptions& options);

 private:
  void on_stop(pid_t tid, int status);
  void on_seccomp(pid_t tid, Task& t);
  void on_syscall_exit(pid_t tid, Task& t);
  void on_clone_event(pid_t tid, Task& t, int event);
  void on_exec(pid_t tid, Task& t);
  void on_exit_event(pid_t tid, Task& t);
  void adopt_child(pid_t child, pid_t tgid, bool borrows_mm);
  std::optional<trace::State> state_of(pid_t tid);
  // Whether [addr, addr + length) has a present page in `tid` (or cannot be probed).
  bool has_pages(pid_t tid, uint64_t addr, uint64_t length);
  void write(const Record& r);
  void resume(pid_t tid, enum __ptrace_request how, int sig = 0);

  std::ostream& out_;
  std::map<pid_t, Task> tasks_;
  std::map<pid_t, int> threads_;   // live threads per process
  std::set<pid_t> early_;          // new tasks that stopped before their parent's clone event
  std::map<pid_t, uint64_t> brk_;  // each process's program break, as brk last returned it
  pid_t root_ = 0;
  CaptureSummary summary_;
};

std::optional<trace::State> Tracer::state_of(pid_t tid) {
  try {
    trace::State s = trace::State::of(snapshot::capture(tid));
    ++summary_.states;
    return s;
  } catch (const InputError&) {
    ++summary_.lost_states;  // the process was killed between the stop and the read
    return std::nullopt;
  }
}

bool Tracer::has_pages(pid_t tid, uint64_t addr, uint64_t length) {
  // A range with no present page: the call can remove no page, so the state before it adds
  // nothing replay needs (free_pgtables frees tables by the range and its neighbours, not by
  // what is present), and one read of the range's pagemap is far cheaper than maps, status and
  // every mapping's pagemap. A nonsensical range (the call will fail) takes the state.
  constexpr uint64_t kUserTop = 1ULL << 47;
  if (length == 0 || addr >= kUserTop || length > kUserTop - addr) return true;
  try {
    if (snapshot::any_present(tid, addr, addr + length)) return true;
    ++summary_.skipped_states;
    return false;
  } catch (const InputError&) {
    return true;  // the process vanished: state_of records the lost state
  }
}

void Tracer::write(const Record& r) {
  out_ << trace::record_line(r);
  ++summary_.records;
}

void Tracer::resume(pid_t tid, enum __ptrace_request how, int sig) {
  // ESRCH: the task was killed meanwhile (SIGKILL needs no tracer); its exit status follows.
  // ptrace(2) takes the signal to deliver in its pointer-sized data argument.
  ptrace(how, tid, nullptr,
         reinterpret_cast<void*>(static_cast<intptr_t>(sig)));  // NOLINT(performance-no-int-to-ptr)
}

void Tracer::adopt_child(pid_t child, pid_t tgid, bool borrows_mm) {
  Task c;
  c.tgid = tgid;
  c.borrows_mm = borrows_mm;
  c.expect_initial_stop = early_.count(child) == 0;
  tasks_[child] = c;
  ++threads_[tgid];
  if (early_.erase(child) != 0) resume(child, PTRACE_CONT);
}

void Tracer::on_seccomp(pid_t tid, Task& t) {
  user_regs_struct regs{};
  if (ptrace(PTRACE_GETREGS, tid, nullptr, &regs) != 0) return;
  t.nr = static_cast<long>(regs.orig_rax);
  Record r;
  r.pid = t.tgid;
  r.tid = tid;
  bool want_state = !t.borrows_mm;
  switch (t.nr) {
    case nr::kMmap:
      r.kind = Kind::kMmap;
      r.addr = regs.rdi;
      r.length = regs.rsi;
      r.arg = regs.rdx;
      r.flags = regs.r10;
      r.offset = regs.r9;
      if ((r.flags & abi::kMapAnonymous) == 0) {
        r.file = link_target("/proc/" + std::to_string(tid) + "/fd/" +
                             std::to_string(static_cast<int>(regs.r8)));
      }
      // A placement that replaces mappings can remove pages and tables: read the state first.
      want_state =
          want_state && (r.flags & abi::kMapFixed) != 0 && has_pages(tid, r.addr, r.length);
      break;
    case nr::kMunmap:
    case nr::kMprotect:
    case nr::kMadvise:
      r.kind = t.nr == nr::kMunmap     ? Kind::kMunmap
               : t.nr == nr::kMprotect ? Kind::kMprotect
                                       : Kind::kMadvise;
      r.addr = regs.rdi;
      r.length = regs.rsi;
      r.arg = regs.rdx;
      // mprotect: the pages written so far must be known before writing stops being allowed
      // (replay writes them while it still can); adding rights needs no state. madvise: only
      // the advice that drops pages.
      if (r.kind == Kind::kMprotect) {
        want_state = want_state && (r.arg & abi::kProtWrite) == 0;
      } else if (r.kind == Kind::kMadvise) {
        want_state = want_state && drops_pages(r.arg);
      }
      want_state = want_state && has_pages(tid, r.addr, r.length);
      break;
    case nr::kBrk:
      r.kind = Kind::kBrk;
      r.addr = regs.rdi;
      // Only a shrinking brk removes pages; brk(0) only asks.
      want_state = want_state && regs.rdi != 0 && regs.rdi < brk_[t.tgid] &&
                   has_pages(tid, regs.rdi, brk_[t.tgid] - regs.rdi);
      break;
    case nr::kMremap:
      r.kind = Kind::kMremap;
      r.addr = regs.rdi;
      r.length = regs.rsi;
      r.arg = regs.rdx;
      r.flags = regs.r10;
      r.addr2 = regs.r8;
      break;
    case nr::kWait4:
    case nr::kWaitid:
      r.kind = Kind::kWait;
      r.addr = regs.rdx;  // waitid: the siginfo_t the child's id is written to
      want_state = false;
      break;
    case nr::kClone:
    case nr::kClone3:
    case nr::kFork:
    case nr::kVfork: {
      r.kind = Kind::kFork;  // refined at the clone event
      if (t.nr == nr::kClone) {
        r.flags = regs.rdi;
      } else if (t.nr == nr::kClone3) {
        errno = 0;
        const long flags = ptrace(PTRACE_PEEKDATA, tid, regs.rdi, nullptr);  // clone_args.flags
        r.flags = errno == 0 ? static_cast<uint64_t>(flags) : 0;
      } else {
        r.flags = t.nr == nr::kVfork ? (abi::kCloneVm | abi::kCloneVfork | SIGCHLD) : SIGCHLD;
      }
      want_state = false;
      break;
    }
    case nr::kExecve:
    case nr::kExecveat:
      r.kind = Kind::kExec;
      r.path = read_string(tid, t.nr == nr::kExecve ? regs.rdi : regs.rsi);
      // The old address space, in case this execve succeeds (a failed one just retries). The
      // first process's image before its first exec is pibooster's own: not part of the trace.
      t.before = (want_state && t.has_image) ? state_of(tid) : std::nullopt;
      want_state = false;
      break;
    default:
      resume(tid, PTRACE_CONT);
      return;
  }
  if (want_state) r.state = state_of(tid);
  t.pending = std::move(r);
  resume(tid, PTRACE_SYSCALL);  // stop again at the call's exit for its result
}

void Tracer::on_syscall_exit(pid_t tid, Task& t) {
  user_regs_struct regs{};
  std::optional<Record> done;
  if (t.pending && ptrace(PTRACE_GETREGS, tid, nullptr, &regs) == 0) {
    Record r = std::move(*t.pending);
    r.result = static_cast<int64_t>(regs.rax);
    const bool failed = r.result < 0 && r.result > -4096;
    if (r.kind == Kind::kWait) {
      r.child = r.result;
      if (t.nr == nr::kWaitid && !failed && r.addr != 0) {
        // waitid returns 0; the child's id is siginfo_t.si_pid (an int at offset 16).
        errno = 0;
        const long word = ptrace(PTRACE_PEEKDATA, tid, r.addr + 16, nullptr);
        r.child = errno == 0 ? static_cast<int32_t>(word & 0xffffffff) : 0;
      }
      r.addr = 0;
      r.result = 0;
      if (!failed && r.child > 0) done = std::move(r);
    } else if (r.kind >= Kind::kMmap) {
      if (failed) {
        ++summary_.failed_calls;
      } else {
        if (r.kind == Kind::kBrk) brk_[t.tgid] = static_cast<uint64_t>(r.result);
        done = std::move(r);
      }
    }
  }
  t.pending.reset();
  t.before.reset();
  // The program runs on while the record is written (nothing else is read from it).
  resume(tid, PTRACE_CONT);
  if (done) write(*done);
}

void Tracer::on_clone_event(pid_t tid, Task& t, int event) {
  unsigned long msg = 0;
  ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &msg);
  const auto child = static_cast<pid_t>(msg);
  Record r = t.pending ? std::move(*t.pending) : Record{};
  t.pending.reset();
  r.pid = t.tgid;
  r.tid = tid;
  r.child = child;
  if (event == PTRACE_EVENT_VFORK) r.flags |= abi::kCloneVm | abi::kCloneVfork;
  if ((r.flags & abi::kCloneVm) == 0) {
    r.kind = Kind::kFork;
  } else if ((r.flags & abi::kCloneVfork) != 0) {
    r.kind = Kind::kVfork;
  } else {
    r.kind = Kind::kThread;
  }
  if (r.kind == Kind::kFork) {
    brk_[child] = brk_[t.tgid];
    if (!t.borrows_mm) r.state = state_of(tid);
    ++summary_.processes;
  } else if (r.kind == Kind::kVfork) {
    ++summary_.processes;
  } else {
    ++summary_.threads;
  }
  resume(tid, PTRACE_CONT);
  // The child of a fork has its own address space and runs no instruction before its first
  // stop, which the tracer has not let go yet: its state can be read while the parent runs on.
  if (r.kind == Kind::kFork) r.child_state = state_of(child);
  adopt_child(child, r.kind == Kind::kThread ? t.tgid : child, r.kind == Kind::kVfork);
  // Written before the next stop is taken, so before any record of the child.
  write(r);
}

void Tracer::on_exec(pid_t tid, Task& t) {
  unsigned long former = 0;
  ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &former);
  if (static_cast<pid_t>(former) != tid) {
    // A thread other than the leader exec'd: it now has the leader's id, the others are gone.
    tasks_.erase(static_cast<pid_t>(former));
  }
  Record r;
  r.kind = Kind::kExec;
  r.pid = t.tgid;
  r.tid = tid;
  r.path = link_target("/proc/" + std::to_string(tid) + "/exe");
  if (r.path.empty() && t.pending) r.path = t.pending->path;
  r.before = std::move(t.before);
  r.state = state_of(tid);
  threads_[t.tgid] = 1;
  brk_.erase(t.tgid);  // the new image's first brk(0) tells where its heap starts
  t.borrows_mm = false;
  t.has_image = true;
  t.pending.reset();
  t.before.reset();
  resume(tid, PTRACE_CONT);
  if (r.state) write(r);
}

void Tracer::on_exit_event(pid_t tid, Task& t) {
  if (--threads_[t.tgid] <= 0) {
    Record r;
    r.kind = Kind::kExit;
    r.pid = t.tgid;
    r.tid = tid;
    // Not for the first process if it never exec'd the command: that address space is
    // pibooster's own (and may be huge, e.g. a sanitizer's shadow).
    if (!t.borrows_mm && t.has_image) r.state = state_of(tid);
    resume(tid, PTRACE_CONT);
    write(r);
    return;
  }
  resume(tid, PTRACE_CONT);
}

void Tracer::on_stop(pid_t tid, int status) {
  auto it = tasks_.find(tid);
  if (it == tasks_.end()) {
    early_.insert(tid);  // a new task whose parent's clone event has not been seen yet
    return;
  }
  Task& t = it->second;
  ++summary_.stops;
  const int sig = WSTOPSIG(status);
  const int event = (status >> 16) & 0xff;
  if (sig == SIGTRAP && event != 0) {
    switch (event) {
      case PTRACE_EVENT_SECCOMP:
        on_seccomp(tid, t);
        return;
      case PTRACE_EVENT_FORK:
      case PTRACE_EVENT_VFORK:
      case PTRACE_EVENT_CLONE:
        on_clone_event(tid, t, event);
        return;
      case PTRACE_EVENT_EXEC:
        on_exec(tid, t);
        return;
      case PTRACE_EVENT_EXIT:
        on_exit_event(tid, t);
        return;
      default:
        resume(tid, PTRACE_CONT);
        return;
    }
  }
  if (sig == (SIGTRAP | 0x80)) {
    on_syscall_exit(tid, t);
    return;
  }
  if (sig == SIGSTOP && t.expect_initial_stop) {
    t.expect_initial_stop = false;
    resume(tid, PTRACE_CONT);
    return;
  }
  siginfo_t info{};
  if (ptrace(PTRACE_GETSIGINFO, tid, nullptr, &info) != 0 && errno == EINVAL) {
    resume(tid, PTRACE_CONT);  // a group-stop (the signal was delivered already): go on
    return;
  }
  resume(tid, PTRACE_CONT, sig);  // a signal for the program: deliver it
}

CaptureSummary Tracer::run(const CaptureOptions& options) {
  if (options.command.empty())
    throw InputError("capture: no command given (capture -- COMMAND ARGS...)");
  std::vector<char*> argv;
  for (const std::string& a : options.command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0)
    throw InputError(std::string("capture: pipe: ") + std::strerror(errno));
  const auto start = std::chrono::steady_clock::now();
  const pid_t child = fork();
  if (child < 0) throw InputError(std::string("capture: fork: ") + std::strerror(errno));
  if (child == 0) {
    close(ready[0]);
    // Stop until the tracer has set its options, then filter, then run the command. A failure
    // is reported through the pipe (errno and the step), which exec's O_CLOEXEC closes on success.
    int step = 0;
    if (ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) == 0) {
      raise(SIGSTOP);
      step = 1;
      if (install_trace_filter()) {
        step = 2;
        execvp(argv[0], argv.data());
      }
    }
    const int report[2] = {step, errno};
    (void)!::write(ready[1], report, sizeof report);
    _exit(127);
  }
  close(ready[1]);
  root_ = child;
  int status = 0;
  if (waitpid(child, &status, 0) != child || !WIFSTOPPED(status)) {
    close(ready[0]);
    throw InputError(
        "capture: ptrace is not permitted here (PTRACE_TRACEME failed; see "
        "/proc/sys/kernel/yama/ptrace_scope)");
  }
  const long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK |
                    PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |
                    PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL;
  // The options travel in ptrace's pointer-sized data argument.
  if (ptrace(PTRACE_SETOPTIONS, child, nullptr,
             reinterpret_cast<void*>(opts)) != 0) {  // NOLINT(performance-no-int-to-ptr)
    kill(child, SIGKILL);
    close(ready[0]);
    throw InputError(std::string("capture: PTRACE_SETOPTIONS: ") + std::strerror(errno));
  }
  trace::Header h;
  h.command = options.command;
  utsname u{};
  if (uname(&u) == 0) h.kernel = u.release;
  h.thp = chosen(read_small_file("/sys/kernel/mm/transparent_hugepage/enabled"));
  const std::string aslr = read_small_file("/proc/sys/kernel/randomize_va_space");
  h.randomize_va_space = aslr.empty() ? 2 : std::atoi(aslr.c_str());
  h.root_pid = child;
  out_ << trace::header_line(h);
  Task root;
  root.tgid = child;
  root.has_image = false;
  tasks_[child] = root;
  threads_[child] = 1;
  summary_.processes = 1;
  resume(child, PTRACE_CONT);
  while (!tasks_.empty()) {
    const pid_t tid = waitpid(-1, &status, __WALL);
    if (tid < 0) {
      if (errno == EINTR) continue;
      break;  // ECHILD: nothing left
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      if (tid == root_) {
        summary_.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      tasks_.erase(tid);
      continue;
    }
    if (WIFSTOPPED(status)) on_stop(tid, status);
  }
  summary_.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int report[2] = {0, 0};
  const bool failed = read(ready[0], report, sizeof report) == static_cast<ssize_t>(sizeof report);
  close(ready[0]);
  if (failed) {
    const char* what = report[0] == 0   ? "PTRACE_TRACEME"
                       : report[0] == 1 ? "the seccomp filter"
                                        : "exec";
    throw InputError("capture: " + std::string(what) + " failed for '" + options.command[0] +
                     "': " + std::strerror(report[1]));
  }
  h.seconds = summary_.seconds;
  h.exit_status = summary_.exit_status;
  out_ << trace::end_line(h, summary_.records);
  return summary_;
}

}  // namespace

CaptureSummary capture(const CaptureOptions& options, std::ostream& out) {
  Tracer t(out);
  return t.run(options);
}

double run_untraced(const CaptureOptions& options) {
  if (options.command.empty()) throw InputError("capture: no command given");
  std::vector<char*> argv;
  for (const std::string& a : options.command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const auto start = std::chrono::steady_clock::now();
  const pid_t child = fork();
  if (child < 0) throw InputError(std::string("capture: fork: ") + std::strerror(errno));
  if (child == 0) {
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace pib::capture
