// SPDX-License-Identifier: MIT
// The guest kernel: processes and their address spaces on top of a PvOps implementation.
// Memory management follows Linux's generic paths (mm/memory.c, mm/mmap.c, kernel/fork.c,
// fs/exec.c, arch/x86/mm) step by step; everything platform-specific goes through PvOps.
//
// Processes are driven from outside (a workload or a test) through system calls and memory
// accesses; each call runs on the process's vCPU, switching to it first when another process was
// running there. Memory accesses by processes go through the hardware walker; the kernel's page
// fault handler serves demand-zero, copy-on-write and page-cache faults.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "guest/aslr.hpp"
#include "guest/image.hpp"
#include "guest/kernel_core.hpp"
#include "guest/mm_types.hpp"
#include "guest/page_cache.hpp"
#include "guest/pv_ops.hpp"

namespace pib::guest {

using Pid = uint32_t;

struct Task {
  Pid pid = 0;
  Pid parent = 0;
  std::string comm;
  std::shared_ptr<Mm> mm;
  VcpuId cpu = 0;
  bool alive = true;
};

// An exec as a real kernel performed it (replaying a captured program): the mappings it left
// (program segments, interpreter, [stack], [vvar]/[vdso]) with their captured addresses, the
// start of the heap, and how many pages the argument strings took at the stack top.
struct ExecLayout {
  std::string comm;
  std::vector<Vma> vmas;
  uint64_t brk_start = 0;
  uint64_t arg_pages = 1;
};

struct MapRequest {
  uint64_t length = 0;
  uint32_t prot = prot::kRead | prot::kWrite;
  bool shared = false;
  std::optional<uint32_t> file;  // page-cache file; anonymous when empty
  uint64_t file_page = 0;
  std::optional<uint64_t> fixed_address;
  std::string name;

  static MapRequest anonymous(uint64_t length, uint32_t prot_bits = prot::kRead | prot::kWrite,
                              bool shared_mapping = false) {
    MapRequest r;
    r.length = length;
    r.prot = prot_bits;
    r.shared = shared_mapping;
    return r;
  }
  static MapRequest of_file(uint32_t file_id, uint64_t first_page, uint64_t length,
                            uint32_t prot_bits, bool shared_mapping = false) {
    MapRequest r = anonymous(length, prot_bits, shared_mapping);
    r.file = file_id;
    r.file_page = first_page;
    return r;
  }
};

class Kernel {
 public:
  Kernel(PvOps& ops, sim::Ledger& ledger);
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  // The randomize_va_space sysctl (0, 1 or 2) and the seed of the layout draws.
  void set_randomize_va_space(int level, uint64_t seed) {
    aslr_ = AddressSpaceRandomizer(level, seed);
  }
  AddressSpaceRandomizer& aslr() { return aslr_; }

  // ---- processes ------------------------------------------------------------------------------
  // The first user process: a task with no mm that execs `image` on `cpu` and runs its start-up.
  Pid spawn(const Image& image, VcpuId cpu = 0);
  Pid fork(Pid parent);
  // vfork: the child shares the parent's mm until it execs or exits.
  Pid vfork(Pid parent);
  // A process with a given layout and no image (rebuilding a snapshot): the VMAs are set up and
  // the tree activated; its pages come from the process's own faults afterwards. `stack_top`
  // and `mmap_base` (0: the unrandomised defaults) are where its stack and mmap area begin.
  Pid spawn_layout(const std::vector<Vma>& vmas, uint64_t brk_start, uint64_t brk, VcpuId cpu,
                   uint64_t stack_top = 0, uint64_t mmap_base = 0);
  // Replaces the image; returns false (process unchanged) if the guest ran out of memory.
  void exec(Pid pid, const Image& image);
  // Runs an image's start-up: the page touches its description lists (demand faults).
  void run_startup(Pid pid, const Image& image);
  void exit(Pid pid);
  // exec with the layout given rather than computed from an image (captured_calls.cpp), and
  // the first process started that way.
  void exec_layout(Pid pid, const ExecLayout& layout);
  Pid spawn_exec_layout(const ExecLayout& layout, VcpuId cpu = 0);
  // Makes `pid` the running process of its vCPU (a context switch if needed).
  void schedule(Pid pid);
  void migrate(Pid pid, VcpuId cpu);
  // Every vCPU with no process to run drops the mm it kept loaded lazily (leave_mm, as a vCPU
  // entering deep idle does), so address spaces of exited processes are freed.
  void quiesce();
  // Kernel code not on behalf of a process (an interrupt handler, a driver) on vCPU `cpu`.
  void enter_interrupt(VcpuId cpu);
  // stop_machine: every vCPU enters the kernel and `fn` runs on vCPU 0 while they wait (as
  // Xen's suspend runs, drivers/xen/manage.c). Processes go back to user mode as they next run.
  void stop_machine(const std::function<void()>& fn);

  // ---- time: the scheduler tick and timed sleeps (timer.cpp) ------------------------------------
  // Starts the periodic tick (CONFIG_HZ) on every vCPU: the clock event device is programmed for
  // the next tick at each timer interrupt, as the tick's hrtimer does on a busy CPU. Needs the
  // platform's clock to run (GuestSystemConfig::clock).
  void start_tick(uint32_t hz);
  // `pid` sleeps in poll(2) with a timeout of `period_ns`, and again each time it has run: a
  // daemon polling on a timer, as xentrace does to drain its buffers. An expired timeout wakes it
  // and asks its vCPU to reschedule; it runs (a switch to it and back) at the next point where
  // the vCPU can reschedule: a return to user mode or a call into the scheduler.
  void poll_periodically(Pid pid, uint64_t period_ns);

  // ---- memory system calls ----------------------------------------------------------------------
  // Returns the mapped address; throws InputError for an impossible request.
  uint64_t mmap(Pid pid, const MapRequest& request);
  void munmap(Pid pid, uint64_t addr, uint64_t length);
  uint64_t brk(Pid pid, uint64_t new_brk);  // 0 queries
  void mprotect(Pid pid, uint64_t addr, uint64_t length, uint32_t prot);
  // madvise(MADV_DONTNEED): the range's PTEs are cleared, its tables kept.
  void madvise_dontneed(Pid pid, uint64_t addr, uint64_t length);
  // mremap without a move: shrinking unmaps the tail, growing extends the VMA (InputError when
  // the pages above are not free). Returns addr.
  uint64_t mremap_in_place(Pid pid, uint64_t addr, uint64_t old_length, uint64_t new_length);
  // mremap that moves the mapping to `new_addr` (move_vma: the PTEs carried over by
  // move_page_tables, then the old range unmapped unless `keep_old`, MREMAP_DONTUNMAP).
  uint64_t mremap_move(Pid pid, uint64_t addr, uint64_t old_length, uint64_t new_length,
                       uint64_t new_addr, bool keep_old);
  // The stack VMA grows down to `new_start` (what a fault below it does); no-op if it is lower.
  void expand_stack(Pid pid, uint64_t new_start);

  // ---- process memory accesses (through the MMU; faults served by the kernel)
  // ---------------------
  std::optional<uint64_t> load(Pid pid, uint64_t va);
  bool store(Pid pid, uint64_t va, uint64_t value);
  bool fetch(Pid pid, uint64_t va);

  // ---- inspection -------------------------------------------------------------------------------
  const Task& task(Pid pid) const;
  std::vector<Pid> live_pids() const;
  const Mm& mm(Pid pid) const { return *task(pid).mm; }
  KernelCore& core() { return core_; }
  const KernelCore& core() const { return core_; }
  PageCache& page_cache() { return cache_; }
  uint64_t free_pages() const { return core_.pages().free_pages(); }
  // The L1 entry mapping `va` in `pid`'s tables (an empty entry when there is none): for tests
  // and reports.
  hw::Pte pte_of(Pid pid, uint64_t va);
  // drop_caches: frees unmapped page-cache pages. Returns how many.
  uint64_t drop_caches() { return cache_.drop_unmapped(); }
  Pfn zero_page() const { return zero_page_; }

 private:
  friend class PageTables;
  // scheduling and mode (kernel.cpp)
  Task& task_mut(Pid pid);
  void enter(Task& t);             // run kernel code for `t` on its vCPU
  void switch_mm(const Mm* next);  // on the current vCPU
  void leave_mm(VcpuId v);
  void mmdrop_if_unused(const std::shared_ptr<Mm>& mm);
  std::optional<uint64_t> user_access(Pid pid, const hw::MemRequest& request);

  // time (timer.cpp)
  void timer_interrupt(VcpuId v);     // the VIRQ_TIMER upcall / local timer interrupt handler
  void program_next_event(VcpuId v);  // clockevents: the earliest of the tick and the timeouts
  void preempt_point(VcpuId v);       // runs woken pollers if the vCPU must reschedule

  // address spaces (mm.cpp)
  // copy_of: the mm fork copies into the new one (nullptr for exec).
  std::shared_ptr<Mm> mm_alloc(const Mm* copy_of = nullptr);
  void pgd_free(Mm& mm);
  void mmput(const std::shared_ptr<Mm>& mm);
  void exit_mmap(Mm& mm);

  // faults (fault.cpp)
  bool handle_mm_fault(Mm& mm, Vaddr va, hw::Access access);
  bool do_anonymous_page(Mm& mm, Vma& vma, EntryRef e, bool write);
  bool do_file_page(Mm& mm, Vma& vma, EntryRef e, Vaddr va, bool write);
  void map_file_page(Mm& mm, const Vma& vma, EntryRef e, Pfn cached, bool dirty);
  // do_fault_around: maps the cached pages of the fault's window; returns whether `va` was one.
  bool do_fault_around(Mm& mm, const Vma& vma, EntryRef e, Vaddr va);
  bool do_wp_page(Mm& mm, Vma& vma, EntryRef e, Vaddr va, hw::Pte old);
  uint64_t user_pte_flags(const Vma& vma, bool writable, bool dirty) const;

  // fork (fork.cpp)
  void dup_mmap(Mm& child, Mm& parent);
  void copy_page_range(Mm& child, Mm& parent, const Vma& vma);
  // One present parent entry of copy_pte_range: the bits the parent's entry loses first (RW of
  // a COW page: ptep_set_wrprotect) and the child's entry, with the page's references taken.
  hw::CopyWord fork_entry(Mm& child, const Vma& vma, hw::Pte pte);
  void copy_pte_range(Mm& child, const Vma& vma, EntryRef child_pmd, EntryRef parent_pmd,
                      Vaddr start, Vaddr end);

  // exec (exec.cpp)
  uint32_t object_file(const ElfObject& obj);
  static Vma segment_vma(const ElfObject& obj, const Segment& s, uint64_t base, uint32_t file);
  void elf_map(Mm& mm, const ElfObject& obj, uint64_t base);
  uint64_t place_vdso(const Mm& mm, uint64_t start_stack, uint64_t len);
  // the exec stack (exec_stack.cpp); `p` is bprm->p, the lowest byte of the strings
  uint64_t bprm_stack(Mm& mm, const Image& image);
  uint64_t setup_arg_pages(Mm& mm, uint64_t p, uint64_t stack_top);
  void shift_arg_pages(Mm& mm, uint64_t old_start, uint64_t shift);
  void create_elf_tables(Mm& mm, const Image& image, uint64_t p);
  // A kernel-mode store to a user address of the current mm (put_user): faults are handled.
  void put_user(Mm& mm, uint64_t va);
  // ld.so at start-up (startup.cpp): a shared library mapped as _dl_map_segments does.
  void dl_map_object(Pid pid, const ElfObject& obj);
  void dl_protect_relro(Pid pid, const ElfObject& obj);
  void exec_layout_into(Task& t, const ExecLayout& layout);
  // A task with no mm yet on `cpu` (what spawn and spawn_exec_layout exec into).
  Pid new_task(VcpuId cpu, const std::string& comm);

  // mappings (mmap.cpp)
  uint64_t get_unmapped_area(const Mm& mm, uint64_t length) const;
  static bool range_is_free(const Mm& mm, uint64_t start, uint64_t end);
  void insert_vma(Mm& mm, Vma vma);
  void split_vma(Mm& mm, uint64_t addr);
  std::vector<Vma> detach_vmas(Mm& mm, uint64_t start, uint64_t end);
  void unmap_region(Mm& mm, const std::vector<Vma>& detached, Vaddr floor, Vaddr ceiling);
  // change_protection over one VMA (its prot already set): every present PTE rewritten through
  // ptep_modify_prot_start/commit, per L1 table in lazy-MMU mode; returns whether any changed
  // (pte_needs_flush: only then does the caller flush).
  bool change_protection(Mm& mm, const Vma& v);

  KernelCore core_;
  PageCache cache_;
  std::map<Pid, Task> tasks_;
  std::vector<std::optional<Pid>> current_;   // running process per vCPU
  std::vector<bool> in_user_;                 // vCPU executing user code
  std::vector<std::shared_ptr<Mm>> zombies_;  // mms whose users are gone but a vCPU still has them
  Pid next_pid_ = 1;
  uint64_t next_mm_id_ = 1;
  Pfn zero_page_ = kInvalidPfn;
  AddressSpaceRandomizer aslr_{0, 1};

  struct Poller {
    Pid pid = 0;
    uint64_t period_ns = 0;
    uint64_t wake_at = 0;
    bool woken = false;
  };
  uint64_t tick_ns_ = 0;              // 0: no tick
  std::vector<uint64_t> next_tick_;   // per vCPU
  std::vector<uint64_t> programmed_;  // per vCPU: the deadline the timer device holds
  std::vector<bool> need_resched_;    // per vCPU
  std::vector<Poller> pollers_;
};

}  // namespace pib::guest
