// SPDX-License-Identifier: MIT
// The process-creation workloads. Each program is described by what it does with the kernel:
// which images it runs and which pages it writes between system calls (a loop's stack frame, the
// libc data it updates), since those writes are what break copy-on-write after a fork.
#include <string>
#include <vector>

#include "common/error.hpp"
#include "workload/io_workloads.hpp"
#include "workload/trace_replay.hpp"
#include "workload/workload.hpp"

namespace pib::workload {

namespace {

using guest::Image;
using guest::Kernel;
using guest::Pid;

// Writes `pages` pages of the stack top and `data_pages` pages of the first writable data
// segment: what a C loop around fork()/waitpid() dirties each time round.
void touch_loop_pages(Kernel& k, Pid pid, uint64_t stack_pages, uint64_t data_pages) {
  const guest::Mm& mm = k.mm(pid);
  for (uint64_t i = 0; i < stack_pages; ++i) {
    if (!k.store(pid, mm.stack_top - (i + 1) * kPageSize + 16, pid)) {
      model_bug("loop stack write failed");
    }
  }
  uint64_t left = data_pages;
  for (const auto& [start, vma] : mm.vmas) {
    if (left == 0) break;
    if (vma.kind != guest::VmaKind::kFile || !vma.writable()) continue;
    for (uint64_t va = vma.start; va < vma.end && left > 0; va += kPageSize, --left) {
      if (!k.store(pid, va + 8, pid)) model_bug("loop data write failed");
    }
  }
}

// A parent process running `image`: spawned on vCPU 0, its start-up done.
Pid start_parent(Kernel& k, const std::string& image) {
  const Image img = guest::builtin_image(image);
  const Pid p = k.spawn(img, 0);
  k.run_startup(p, img);
  return p;
}

// A child of `parent` that stays alive: moved to vCPU `cpu`, it returns from fork() and writes
// `pages` pages of an anonymous area of its own.
Pid fork_live_child(Kernel& k, Pid parent, uint64_t pages, VcpuId cpu = 0) {
  const Pid c = k.fork(parent);
  k.migrate(c, cpu);
  touch_loop_pages(k, c, 1, 0);  // fork() returning in the child
  if (pages != 0) {
    const uint64_t a = k.mmap(c, guest::MapRequest::anonymous(pages * kPageSize));
    for (uint64_t p = 0; p < pages; ++p) k.store(c, a + p * kPageSize, p + 1);
  }
  return c;
}

struct Common {
  std::string parent_image;
  uint64_t parent_stack_writes;
  uint64_t parent_data_writes;
  uint64_t child_stack_writes;
  uint64_t parent_heap_pages;
  Pid parent = 0;

  explicit Common(const Params& p, const std::string& default_image)
      : parent_image(p.str("parent_image", default_image)),
        parent_stack_writes(p.u64("parent_stack_writes", 1)),
        parent_data_writes(p.u64("parent_data_writes", 1)),
        child_stack_writes(p.u64("child_stack_writes", 1)),
        parent_heap_pages(p.u64("parent_heap_pages", 0)) {}

  void start(system::GuestSystem& sys) {
    Kernel& k = sys.kernel();
    const Image img = guest::builtin_image(parent_image);
    parent = k.spawn(img, 0);
    k.run_startup(parent, img);
    if (parent_heap_pages != 0) {
      // A private anonymous area written page by page (bench.c's heap64 set-up).
      const uint64_t a =
          k.mmap(parent, guest::MapRequest::anonymous(parent_heap_pages * kPageSize));
      for (uint64_t i = 0; i < parent_heap_pages; ++i) k.store(parent, a + i * kPageSize, i);
    }
  }
  // The parent's side after its child is gone: waitpid returns, the loop goes round.
  void parent_resumes(Kernel& k) {
    touch_loop_pages(k, parent, parent_stack_writes, parent_data_writes);
  }
  Pid fork_child(Kernel& k) {
    const Pid c = k.fork(parent);
    touch_loop_pages(k, c, child_stack_writes, 0);  // fork() returning in the child
    return c;
  }
};

const std::vector<std::string> kForkKeys = {"parent_image", "parent_stack_writes",
                                            "parent_data_writes", "child_stack_writes",
                                            "parent_heap_pages"};

class ForkExit final : public Workload {
 public:
  ForkExit(const Params& p, const std::string& image) : c_(p, image) {}
  std::string operation() const override { return "fork+exit"; }
  void setup(system::GuestSystem& sys) override { c_.start(sys); }
  void iteration(system::GuestSystem& sys) override {
    Kernel& k = sys.kernel();
    const Pid child = c_.fork_child(k);
    k.exit(child);
    k.schedule(c_.parent);
    c_.parent_resumes(k);
  }

 private:
  Common c_;
};

class ForkExec final : public Workload {
 public:
  enum class Via { kFork, kShell, kVfork };
  ForkExec(const Params& p, Via via)
      : c_(p, "lmbench-hello"),
        via_shell_(via == Via::kShell),
        vfork_(via == Via::kVfork),
        exec_image_(guest::builtin_image(p.str("exec_image", "lmbench-hello"))),
        shell_(guest::builtin_image(p.str("shell_image", "sh"))) {}
  std::string operation() const override {
    if (vfork_) return "vfork+execve";
    return via_shell_ ? "fork+execve(sh -c)" : "fork+execve";
  }
  void setup(system::GuestSystem& sys) override { c_.start(sys); }
  void iteration(system::GuestSystem& sys) override {
    Kernel& k = sys.kernel();
    // A vfork child runs on the parent's address space until its execve: nothing is copied,
    // and what it writes there before the exec (the stack frame of vfork's return) is already
    // the parent's, writable.
    const Pid child = vfork_ ? k.vfork(c_.parent) : c_.fork_child(k);
    if (via_shell_) {  // sh -c PROG: the shell starts, then execs PROG in place (no fork)
      k.exec(child, shell_);
      k.run_startup(child, shell_);
    }
    k.exec(child, exec_image_);
    k.run_startup(child, exec_image_);
    k.exit(child);
    k.schedule(c_.parent);
    c_.parent_resumes(k);
  }

 private:
  Common c_;
  bool via_shell_;
  bool vfork_;
  Image exec_image_;
  Image shell_;
};

class Execl final : public Workload {
 public:
  explicit Execl(const Params& p) : image_(guest::builtin_image(p.str("image", "tiny-static"))) {}
  std::string operation() const override { return "execl"; }
  void setup(system::GuestSystem& sys) override {
    pid_ = sys.kernel().spawn(image_, 0);
    sys.kernel().run_startup(pid_, image_);
  }
  void iteration(system::GuestSystem& sys) override {
    sys.kernel().exec(pid_, image_);  // the program execs itself
    sys.kernel().run_startup(pid_, image_);
  }

 private:
  Image image_;
  Pid pid_ = 0;
};

// UnixBench's shell scripts: `copies` shells, each running a script of `commands` external
// commands (each a fork of the shell and an execve of a dynamically linked utility). The copies
// run concurrently: one command step of every copy per round, on vCPUs round-robin.
class ShellScripts final : public Workload {
 public:
  explicit ShellScripts(const Params& p)
      : copies_(p.u64("copies", 1)),
        commands_(p.u64("commands", 6)),
        shell_(guest::builtin_image(p.str("shell_image", "sh"))),
        command_(guest::builtin_image(p.str("command_image", "sh"))) {
    if (copies_ == 0 || copies_ > 64) throw InputError("shell scripts: copies must be 1..64");
    command_.name = "utility";
  }
  std::string operation() const override { return "shell script x" + std::to_string(copies_); }
  void setup(system::GuestSystem& sys) override {
    Kernel& k = sys.kernel();
    const uint32_t vcpus = k.core().nr_cpus();
    for (uint64_t i = 0; i < copies_; ++i) {
      const Pid sh = k.spawn(shell_, static_cast<VcpuId>(i % vcpus));
      k.run_startup(sh, shell_);
      shells_.push_back(sh);
    }
  }
  void iteration(system::GuestSystem& sys) override {
    Kernel& k = sys.kernel();
    for (uint64_t step = 0; step < commands_; ++step) {
      std::vector<Pid> children;
      for (const Pid sh : shells_) {
        const Pid c = k.fork(sh);
        touch_loop_pages(k, c, 1, 0);
        k.exec(c, command_);
        k.run_startup(c, command_);
        children.push_back(c);
      }
      for (std::size_t i = 0; i < children.size(); ++i) {
        k.exit(children[i]);
        k.schedule(shells_[i]);
        touch_loop_pages(k, shells_[i], 1, 1);
      }
    }
  }

 private:
  uint64_t copies_;
  uint64_t commands_;
  Image shell_;
  Image command_;
  std::vector<Pid> shells_;
};

// A CPU-bound program: it walks its own working set, with no system calls once warm.
class CpuTouch final : public Workload {
 public:
  explicit CpuTouch(const Params& p) : pages_(p.u64("pages", 256)), rounds_(p.u64("rounds", 4)) {
    if (pages_ == 0 || rounds_ == 0) throw InputError("cpu.touch: pages and rounds must be >= 1");
  }
  std::string operation() const override {
    return std::to_string(rounds_) + " passes over " + std::to_string(pages_) + " pages";
  }
  void setup(system::GuestSystem& sys) override {
    Kernel& k = sys.kernel();
    const Image img = guest::builtin_image("tiny-static");
    pid_ = k.spawn(img, 0);
    k.run_startup(pid_, img);
    area_ = k.mmap(pid_, guest::MapRequest::anonymous(pages_ * kPageSize));
  }
  void iteration(system::GuestSystem& sys) override {
    Kernel& k = sys.kernel();
    for (uint64_t r = 0; r < rounds_; ++r) {
      for (uint64_t i = 0; i < pages_; ++i) k.store(pid_, area_ + i * kPageSize + 8 * r, r);
    }
  }

 private:
  uint64_t pages_, rounds_;
  Pid pid_ = 0;
  uint64_t area_ = 0;
};

// A program mapping a fresh anonymous area, writing each page once (one fault and one cleared
// page each) and unmapping it: the page-fault path and the teardown, no fork.
class MmapTouch final : public Workload {
 public:
  explicit MmapTouch(const Params& p) : pages_(p.u64("pages", 512)) {
    if (pages_ == 0) throw InputError("mem.mmap_touch: pages must be >= 1");
  }
  std::string operation() const override {
    return "mmap+touch+munmap of " + std::to_string(pages_) + " pages";
  }
  void setup(system::GuestSystem& sys) override {
    pid_ = start_parent(sys.kernel(), "tiny-static");
  }
  void iteration(system::GuestSystem& sys) override {
    Kernel& k = sys.kernel();
    const uint64_t a = k.mmap(pid_, guest::MapRequest::anonymous(pages_ * kPageSize));
    for (uint64_t i = 0; i < pages_; ++i) k.store(pid_, a + i * kPageSize, i + 1);
    k.munmap(pid_, a, pages_ * kPageSize);
  }

 private:
  uint64_t pages_;
  Pid pid_ = 0;
};

// Many live processes: a parent forks `children` children; each writes `child_pages` pages of an
// anonymous area of its own (and its stack) and stays alive until all have been forked; then
// all exit. The host-memory target of docs/cost-model.md is measured on this workload, at the
// point where every child is alive.
class ForkPopulation final : public Workload {
 public:
  explicit ForkPopulation(const Params& p)
      : image_(p.str("parent_image", "lmbench-hello")),
        children_(p.u64("children", 100)),
        child_pages_(p.u64("child_pages", 16)) {
    if (children_ == 0) throw InputError("proc.population: children must be >= 1");
  }
  std::string operation() const override {
    return std::to_string(children_) + " live children, then exit";
  }
  void setup(system::GuestSystem& sys) override { parent_ = start_parent(sys.kernel(), image_); }
  void iteration(system::GuestSystem& sys) override {
    Kernel& k = sys.kernel();
    std::vector<Pid> children;
    for (uint64_t i = 0; i < children_; ++i) {
      children.push_back(fork_live_child(k, parent_, child_pages_));
      k.schedule(parent_);
    }
    at_peak(sys);
    for (const Pid c : children) {
      k.schedule(c);
      k.exit(c);
    }
    k.schedule(parent_);
    touch_loop_pages(k, parent_, 1, 1);  // the parent's wait loop
  }

 private:
  std::string image_;
  uint64_t children_;
  uint64_t child_pages_;
  Pid parent_ = 0;
};

// Demand that comes and goes: each iteration is a burst — `burst` children forked and alive at
// once, spread over the vCPUs, each writing `child_pages` pages — then a lull of `lull` single
// fork+exit rounds. Page-table demand swings between the burst's hundreds of tables and the
// lull's few, every iteration: the case a fixed-size cache handles worst.
class Fluctuating final : public Workload {
 public:
  explicit Fluctuating(const Params& p)
      : image_(p.str("parent_image", "lmbench-hello")),
        burst_(p.u64("burst", 32)),
        lull_(p.u64("lull", 64)),
        child_pages_(p.u64("child_pages", 16)) {
    if (burst_ == 0 || burst_ > 4096) throw InputError("proc.fluctuating: burst must be 1..4096");
    if (lull_ > 1u << 20) throw InputError("proc.fluctuating: lull must be 0..1048576");
    if (child_pages_ > 1u << 16) throw InputError("proc.fluctuating: child_pages must be 0..65536");
  }
  std::string operation() const override {
    return "burst of " + std::to_string(burst_) + ", then " + std::to_string(lull_) + " fork+exit";
  }
  void setup(system::GuestSystem& sys) override { parent_ = start_parent(sys.kernel(), image_); }
  void iteration(system::GuestSystem& sys) override {
    Kernel& k = sys.kernel();
    const uint32_t vcpus = k.core().nr_cpus();
    std::vector<Pid> children;
    for (uint64_t i = 0; i < burst_; ++i) {
      // The burst spreads over the vCPUs.
      children.push_back(fork_live_child(k, parent_, child_pages_, static_cast<VcpuId>(i % vcpus)));
      k.schedule(parent_);
    }
    at_peak(sys);
    for (const Pid c : children) k.exit(c);
    k.schedule(parent_);
    touch_loop_pages(k, parent_, 1, 1);
    for (uint64_t i = 0; i < lull_; ++i) {
      const Pid c = k.fork(parent_);
      touch_loop_pages(k, c, 1, 0);
      k.exit(c);
      k.schedule(parent_);
      touch_loop_pages(k, parent_, 1, 1);
    }
  }

 private:
  std::string image_;
  uint64_t burst_;
  uint64_t lull_;
  uint64_t child_pages_;
  Pid parent_ = 0;
};

// A save and restore of the whole domain on this machine (a local migration), with `children`
// processes alive, each having written `child_pages` pages, after `warm_rounds` fork+exit
// rounds so that a design's caches hold tables. One iteration is the guest's suspend (its pins
// of roots not in use), the toolstack's copy and the restore's pins, and the resume (unpins,
// the pool registered again): what a design costs a migration. Xen only.
class SaveRestore final : public Workload {
 public:
  explicit SaveRestore(const Params& p)
      : image_(p.str("parent_image", "lmbench-hello")),
        children_(p.u64("children", 8, 4096)),
        child_pages_(p.u64("child_pages", 16, 1u << 16)),
        warm_rounds_(p.u64("warm_rounds", 16)) {}
  std::string operation() const override {
    return "save/restore with " + std::to_string(children_ + 1) + " processes";
  }
  void setup(system::GuestSystem& sys) override {
    if (sys.hypervisor() == nullptr) {
      throw InputError("proc.save_restore needs Xen: a native kernel has nothing to save it");
    }
    Kernel& k = sys.kernel();
    const Pid parent = start_parent(k, image_);
    for (uint64_t i = 0; i < warm_rounds_; ++i) {
      const Pid c = k.fork(parent);
      touch_loop_pages(k, c, 1, 0);
      k.exit(c);
      k.schedule(parent);
    }
    for (uint64_t i = 0; i < children_; ++i) {
      fork_live_child(k, parent, child_pages_, static_cast<VcpuId>(i % k.core().nr_cpus()));
      k.schedule(parent);
    }
    k.quiesce();  // freed tables pass their grace period into the caches
  }
  void iteration(system::GuestSystem& sys) override {
    at_peak(sys);
    const xen::SaveRestoreResult r = sys.save_restore();
    if (r.rc != abi::err::kOk) throw InputError("proc.save_restore: " + r.what);
  }

 private:
  std::string image_;
  uint64_t children_;
  uint64_t child_pages_;
  uint64_t warm_rounds_;
};

}  // namespace

std::vector<WorkloadInfo> workload_catalog() {
  std::vector<std::string> exec_keys = kForkKeys;
  exec_keys.push_back("exec_image");
  std::vector<std::string> shell_keys = exec_keys;
  shell_keys.push_back("shell_image");
  return {
      {"lat_proc.fork", "lmbench lat_proc fork: fork, the child exits, the parent waits",
       kForkKeys},
      {"lat_proc.exec", "lmbench lat_proc exec: fork, the child execs a static hello and exits",
       exec_keys},
      {"lat_proc.shell", "lmbench lat_proc shell: fork, the child runs sh -c hello", shell_keys},
      {"lat_proc.vfork_exec",
       "vfork, the child execs a static hello and exits (posix_spawn's way), the parent waits",
       exec_keys},
      {"mem.mmap_touch",
       "mmap an anonymous area, write one word in each page, munmap it",
       {"pages"}},
      {"unixbench.spawn", "UnixBench spawn: a small static program forks children that exit",
       kForkKeys},
      {"unixbench.execl", "UnixBench execl: a program execs itself", {"image"}},
      {"unixbench.shell1",
       "UnixBench shell scripts, 1 concurrent copy",
       {"copies", "commands", "shell_image", "command_image"}},
      {"unixbench.shell8",
       "UnixBench shell scripts, 8 concurrent copies",
       {"copies", "commands", "shell_image", "command_image"}},
      {"proc.population",
       "a parent forks N children that each write pages of their own and stay alive; then all "
       "exit",
       {"parent_image", "children", "child_pages"}},
      {"proc.fluctuating",
       "bursts then lulls: N children alive at once, then M single fork+exit rounds, repeated",
       {"parent_image", "burst", "lull", "child_pages"}},
      {"proc.save_restore",
       "the domain saved and restored on this machine (a local migration) with N live "
       "processes, after M fork+exit rounds",
       {"parent_image", "children", "child_pages", "warm_rounds"},
       false,
       false,
       true},
      {"trace.replay",
       "a captured real program (pibooster capture) or a snapshot, replayed event by event",
       {"trace", "op"}},
      {"cpu.touch",
       "a CPU-bound program passing over its working set (no system calls once warm)",
       {"pages", "rounds"}},
      {"net.rx", "netperf-style receive stream: the NIC DMAs packets into posted buffers",
       io_keys_net(), true, false},
      {"net.tx", "netperf-style transmit stream: the NIC DMAs packets out of posted buffers",
       io_keys_net(), true, false},
      {"disk.seq", "dd-style sequential disk I/O (128 KiB requests by default)", io_keys_disk(),
       false, true},
      {"disk.rand", "fio-style random disk I/O (4 KiB requests by default)", io_keys_disk(), false,
       true},
  };
}

WorkloadInfo workload_info(const std::string& name) {
  for (const WorkloadInfo& info : workload_catalog()) {
    if (info.name == name) return info;
  }
  std::string valid;
  for (const WorkloadInfo& info : workload_catalog()) {
    if (!valid.empty()) valid += ", ";
    valid += info.name;
  }
  throw InputError("unknown workload '" + name + "' (valid: " + valid + ")");
}

std::unique_ptr<Workload> make_workload(const std::string& name, const Params& params) {
  for (const WorkloadInfo& info : workload_catalog()) {
    if (info.name != name) continue;
    params.check_known(name, info.keys);
    if (auto io = make_io_workload(name, params)) return io;
    if (name == "cpu.touch") return std::make_unique<CpuTouch>(params);
    if (name == "trace.replay") return std::make_unique<ReplayWorkload>(params);
    if (name == "proc.population") return std::make_unique<ForkPopulation>(params);
    if (name == "proc.fluctuating") return std::make_unique<Fluctuating>(params);
    if (name == "proc.save_restore") return std::make_unique<SaveRestore>(params);
    if (name == "lat_proc.fork") return std::make_unique<ForkExit>(params, "lmbench-hello");
    if (name == "unixbench.spawn") return std::make_unique<ForkExit>(params, "tiny-static");
    if (name == "lat_proc.exec") return std::make_unique<ForkExec>(params, ForkExec::Via::kFork);
    if (name == "lat_proc.shell") return std::make_unique<ForkExec>(params, ForkExec::Via::kShell);
    if (name == "lat_proc.vfork_exec") {
      return std::make_unique<ForkExec>(params, ForkExec::Via::kVfork);
    }
    if (name == "mem.mmap_touch") return std::make_unique<MmapTouch>(params);
    if (name == "unixbench.execl") return std::make_unique<Execl>(params);
    if (name == "unixbench.shell1" || name == "unixbench.shell8") {
      Params p = params;
      if (p.values().count("copies") == 0) p.set("copies", name == "unixbench.shell1" ? "1" : "8");
      return std::make_unique<ShellScripts>(p);
    }
  }
  std::string valid;
  for (const WorkloadInfo& info : workload_catalog())
    valid += (valid.empty() ? "" : ", ") + info.name;
  throw InputError("unknown workload '" + name + "' (valid: " + valid + ")");
}

}  // namespace pib::workload
