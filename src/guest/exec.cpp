// SPDX-License-Identifier: MIT
// execve: a fresh mm with the argument pages faulted in while it is still private to exec
// (unpinned: entries written by immediate mmu_updates under Xen), activation (Xen: pin, then the
// CR3 switch), release of the old mm (the exit path), then the ELF mappings (program segments,
// shared libraries top-down below the mmap base, vDSO, stack, brk).
#include "common/error.hpp"
#include "guest/kernel.hpp"
#include "guest/pgtable.hpp"

namespace pib::guest {

namespace {
constexpr uint64_t kStaticBase = 0x400000;
}  // namespace

uint64_t Kernel::place_vdso(const Mm& mm, uint64_t start_stack, uint64_t len) {
  // get_unmapped_area honours the randomised hint when the range is free, else goes top-down.
  if (const std::optional<uint64_t> hint = aslr_.vdso_hint(start_stack, len)) {
    if (*hint + len <= kTaskSize && range_is_free(mm, *hint, *hint + len)) return *hint;
  }
  return get_unmapped_area(mm, len);
}

uint64_t Kernel::object_pages(const ElfObject& obj) const {
  uint64_t n = 0;
  for (const Segment& s : obj.segments) n += s.pages;
  return n;
}

void Kernel::map_object(Mm& mm, const ElfObject& obj, uint64_t base) {
  uint64_t file_pages = 0;
  for (const Segment& s : obj.segments) {
    if (s.file_backed) file_pages += s.pages;
  }
  const uint32_t file = cache_.file(obj.file, std::max<uint64_t>(file_pages, 1));
  uint64_t va = base;
  uint64_t pgoff = 0;
  for (const Segment& s : obj.segments) {
    if (s.pages == 0) continue;
    Vma vma;
    vma.start = va;
    vma.end = va + s.pages * kPageSize;
    vma.prot = s.prot;
    vma.name = obj.file + ":" + s.name;
    if (s.file_backed) {
      vma.kind = VmaKind::kFile;
      vma.file = file;
      vma.pgoff = pgoff;
      pgoff += s.pages;
    } else {
      vma.kind = VmaKind::kAnon;
    }
    insert_vma(mm, vma);
    va = vma.end;
  }
}

void Kernel::exec(Pid pid, const Image& image) {
  Task& t = task_mut(pid);
  enter(t);
  core_.ledger().charge(sim::Event::kGuestExec);
  std::shared_ptr<Mm> mm = mm_alloc();
  // The layout draws, in load_elf_binary's order: the mmap base (setup_new_exec), the stack top
  // (setup_arg_pages), the PIE load base, brk, then the vDSO.
  mm->mmap_base = aslr_.mmap_base();
  mm->stack_top = aslr_.stack_top();
  // bprm_mm_init + copy_strings: the stack VMA at the top, argument pages faulted in through
  // get_user_pages_remote on the not yet activated mm.
  const uint64_t arg_pages = std::max<uint64_t>(image.arg_pages, 1);
  Vma stack;
  stack.start = mm->stack_top - arg_pages * kPageSize;
  stack.end = mm->stack_top;
  stack.prot = prot::kRead | prot::kWrite;
  stack.kind = VmaKind::kStack;
  stack.name = "[stack]";
  insert_vma(*mm, stack);
  for (uint64_t i = 0; i < arg_pages; ++i) {
    const Vaddr va{mm->stack_top - (i + 1) * kPageSize};
    if (!handle_mm_fault(*mm, va, hw::Access::kWrite)) model_bug("argument page fault failed");
  }
  // exec_mmap: activate the new mm, then drop the old one.
  std::shared_ptr<Mm> old = std::move(t.mm);
  t.mm = mm;
  t.comm = image.name;
  {
    sim::SpanScope span(core_.ledger(), sim::Span::kPgdPin);
    core_.ops().enter_mmap(*mm);  // activate_mm (Xen: pin)
  }
  switch_mm(mm.get());
  if (old) mmput(old);
  // setup_arg_pages: the stack grows to its initial size (expand_stack).
  Vma s = mm->vmas.at(stack.start);
  const uint64_t stack_pages = std::max(image.stack_pages, arg_pages);
  mm->vmas.erase(stack.start);
  s.start = mm->stack_top - stack_pages * kPageSize;
  insert_vma(*mm, s);
  // load_elf_binary: the program, then its libraries (ld.so maps these in reality; the page
  // tables see the same mappings), then the vDSO.
  const uint64_t base = image.pie ? aslr_.pie_base() : kStaticBase;
  map_object(*mm, image.program, base);
  mm->brk_start = mm->brk = aslr_.brk_start(base + object_pages(image.program) * kPageSize);
  for (const ElfObject& lib : image.libraries) {
    const uint64_t size = object_pages(lib) * kPageSize;
    map_object(*mm, lib, get_unmapped_area(*mm, size));
  }
  if (image.vdso) {
    // The initial stack pointer sits in the lowest argument page.
    const uint64_t start_stack = mm->stack_top - arg_pages * kPageSize + 64;
    const uint64_t at = place_vdso(*mm, start_stack, 8 * kPageSize);
    const uint32_t vvar = cache_.file("[vvar]", 6);
    const uint32_t vdso = cache_.file("[vdso]", 2);
    Vma v;
    v.kind = VmaKind::kSpecial;
    v.shared = true;
    v.prot = prot::kRead;
    v.start = at;
    v.end = at + 6 * kPageSize;
    v.file = vvar;
    v.name = "[vvar]";
    insert_vma(*mm, v);
    Vma d;
    d.kind = VmaKind::kFile;
    d.prot = prot::kRead | prot::kExec;
    d.start = v.end;
    d.end = v.end + 2 * kPageSize;
    d.file = vdso;
    d.name = "[vdso]";
    d.map_pages = false;
    insert_vma(*mm, d);
  }
}

Pid Kernel::spawn_layout(const std::vector<Vma>& vmas, uint64_t brk_start, uint64_t brk, VcpuId cpu,
                         uint64_t stack_top, uint64_t mmap_base) {
  if (cpu >= core_.nr_cpus()) throw InputError("no vCPU " + std::to_string(cpu));
  const Pid pid = next_pid_++;
  Task t;
  t.pid = pid;
  t.comm = "snapshot";
  t.cpu = cpu;
  tasks_.emplace(pid, std::move(t));
  Task& task = task_mut(pid);
  enter(task);
  std::shared_ptr<Mm> mm = mm_alloc();
  for (const Vma& v : vmas) insert_vma(*mm, v);
  mm->brk_start = brk_start;
  mm->brk = brk;
  if (stack_top != 0) mm->stack_top = stack_top;
  if (mmap_base != 0) mm->mmap_base = mmap_base;
  task.mm = mm;
  {
    sim::SpanScope span(core_.ledger(), sim::Span::kPgdPin);
    core_.ops().enter_mmap(*mm);
  }
  switch_mm(mm.get());
  return pid;
}

Pid Kernel::spawn(const Image& image, VcpuId cpu) {
  if (cpu >= core_.nr_cpus()) throw InputError("no vCPU " + std::to_string(cpu));
  const Pid pid = next_pid_++;
  Task t;
  t.pid = pid;
  t.comm = image.name;
  t.cpu = cpu;
  tasks_.emplace(pid, std::move(t));
  exec(pid, image);
  return pid;
}

void Kernel::run_startup(Pid pid, const Image& image) {
  const Mm& m = *task(pid).mm;
  auto touch_object = [&](const ElfObject& obj) {
    for (const auto& [start, vma] : m.vmas) {
      for (const Segment& s : obj.segments) {
        if (vma.name != obj.file + ":" + s.name) continue;
        for (uint64_t i = 0; i < std::min(s.touch_pages, s.pages); ++i) {
          const uint64_t va = vma.start + i * kPageSize;
          const bool ok = s.touch_write                 ? store(pid, va, pid)
                          : (s.prot & prot::kExec) != 0 ? fetch(pid, va)
                                                        : load(pid, va).has_value();
          if (!ok) model_bug("start-up touch of " + vma.name + " failed");
        }
      }
    }
  };
  touch_object(image.program);
  for (const ElfObject& lib : image.libraries) touch_object(lib);
  for (uint64_t i = 0; i < image.stack_touch_pages; ++i) {
    if (!store(pid, m.stack_top - (i + 1) * kPageSize + 8, pid)) model_bug("stack touch failed");
  }
  if (image.heap_pages != 0) {
    const uint64_t start = brk(pid, 0);
    brk(pid, start + image.heap_pages * kPageSize);
    for (uint64_t i = 0; i < image.heap_pages; ++i) {
      if (!store(pid, start + i * kPageSize, pid)) model_bug("heap touch failed");
    }
  }
}

}  // namespace pib::guest
