// SPDX-License-Identifier: MIT
// execve as Linux 6.1's load_elf_binary runs it: a fresh mm with the argument strings copied in
// while it is still private to exec (unpinned: entries written by immediate mmu_updates under
// Xen), activation (Xen: pin, then the CR3 switch), release of the old mm (the exit path), the
// stack moved to its final place (exec_stack.cpp), the program's PT_LOAD segments and bss, the
// ELF interpreter, the vDSO, the initial stack contents. The dynamic loader's own work (shared
// libraries, RELRO) runs at start-up, in run_startup, as ld.so runs in user mode.
#include "common/error.hpp"
#include "guest/kernel.hpp"
#include "guest/pgtable.hpp"

namespace pib::guest {

namespace {
constexpr uint64_t kVvarPages = 6;
constexpr uint64_t kVdsoPages = 2;
}  // namespace

uint64_t Kernel::place_vdso(const Mm& mm, uint64_t start_stack, uint64_t len) {
  // get_unmapped_area honours the randomised hint when the range is free, else goes top-down.
  if (const std::optional<uint64_t> hint = aslr_.vdso_hint(start_stack, len)) {
    if (*hint + len <= kTaskSize && range_is_free(mm, *hint, *hint + len)) return *hint;
  }
  return get_unmapped_area(mm, len);
}

uint32_t Kernel::object_file(const ElfObject& obj) {
  // ld.so maps the whole span from the first segment's offset: the file must cover it.
  uint64_t pages = std::max(
      obj.file_pages, obj.segments.empty() ? 0 : obj.segments.front().file_page + obj.span_pages());
  for (const Segment& s : obj.segments) {
    if (s.file_backed) pages = std::max(pages, s.file_page + s.pages);
  }
  return cache_.file(obj.file, std::max<uint64_t>(pages, 1));
}

Vma Kernel::segment_vma(const ElfObject& obj, const Segment& s, uint64_t base, uint32_t file) {
  Vma vma;
  vma.start = base + s.start_page * kPageSize;
  vma.end = vma.start + s.pages * kPageSize;
  vma.prot = s.prot;
  vma.name = obj.file + ":" + s.name;
  if (s.file_backed) {
    vma.kind = VmaKind::kFile;
    vma.file = file;
    vma.pgoff = s.file_page;
  } else {
    vma.kind = VmaKind::kAnon;
  }
  return vma;
}

void Kernel::elf_map(Mm& mm, const ElfObject& obj, uint64_t base) {
  // elf_map per PT_LOAD (the first with the whole span reserved, the rest MAP_FIXED inside it:
  // the VMAs that result are the segments'), then set_brk's anonymous bss and padzero's write
  // into the last file page.
  const uint32_t file = object_file(obj);
  for (const Segment& s : obj.segments) {
    if (s.pages != 0) insert_vma(mm, segment_vma(obj, s, base, file));
  }
  if (obj.zero_fill_page) put_user(mm, base + *obj.zero_fill_page * kPageSize + kPageSize - 8);
}

void Kernel::exec(Pid pid, const Image& image) {
  Task& t = task_mut(pid);
  enter(t);
  core_.ledger().charge(sim::Event::kGuestExec);
  std::shared_ptr<Mm> mm = mm_alloc();
  // The layout draws, in load_elf_binary's order: the mmap base (setup_new_exec), the stack top
  // and its sub-page alignment (setup_arg_pages), the PIE load base, brk, the vDSO, and the
  // initial stack pointer's alignment (create_elf_tables).
  mm->mmap_base = aslr_.mmap_base();
  const uint64_t stack_top = aslr_.stack_top();
  // bprm_mm_init + copy_strings on the not yet activated mm.
  uint64_t p = bprm_stack(*mm, image);
  // begin_new_exec -> exec_mmap: activate the new mm, then drop the old one.
  std::shared_ptr<Mm> old = std::move(t.mm);
  t.mm = mm;
  t.comm = image.name;
  {
    sim::SpanScope span(core_.ledger(), sim::Span::kPgdPin);
    core_.ops().enter_mmap(*mm);  // activate_mm (Xen: pin)
  }
  switch_mm(mm.get());
  if (old) mmput(old);
  p = setup_arg_pages(*mm, p, stack_top);
  // The program's PT_LOADs: ET_EXEC at its link address, ET_DYN at the PIE base.
  const uint64_t base = image.pie ? aslr_.pie_base() : image.program.link_address;
  elf_map(*mm, image.program, base);
  mm->brk_start = mm->brk = aslr_.brk_start(base + image.program.span_pages() * kPageSize);
  if (image.interpreter) {
    // load_elf_interp: the interpreter's whole span placed top-down below the mmap base.
    const ElfObject& interp = *image.interpreter;
    elf_map(*mm, interp, get_unmapped_area(*mm, interp.span_pages() * kPageSize));
  }
  if (image.vdso) {
    // map_vdso_randomized, from the stack pointer setup_arg_pages left (mm->start_stack).
    const uint64_t at = place_vdso(*mm, p, (kVvarPages + kVdsoPages) * kPageSize);
    const uint32_t vvar = cache_.file("[vvar]", kVvarPages);
    const uint32_t vdso = cache_.file("[vdso]", kVdsoPages);
    Vma v;
    v.kind = VmaKind::kSpecial;
    v.shared = true;
    v.prot = prot::kRead;
    v.start = at;
    v.end = at + kVvarPages * kPageSize;
    v.file = vvar;
    v.name = "[vvar]";
    insert_vma(*mm, v);
    Vma d;
    d.kind = VmaKind::kFile;
    d.prot = prot::kRead | prot::kExec;
    d.start = v.end;
    d.end = v.end + kVdsoPages * kPageSize;
    d.file = vdso;
    d.name = "[vdso]";
    d.map_pages = false;
    insert_vma(*mm, d);
  }
  create_elf_tables(*mm, image, p);
}

Pid Kernel::spawn_layout(const std::vector<Vma>& vmas, uint64_t brk_start, uint64_t brk, VcpuId cpu,
                         uint64_t stack_top, uint64_t mmap_base) {
  const Pid pid = new_task(cpu, "snapshot");
  Task& task = task_mut(pid);
  enter(task);
  std::shared_ptr<Mm> mm = mm_alloc();
  for (const Vma& v : vmas) insert_vma(*mm, v);
  mm->brk_start = brk_start;
  mm->brk = brk;
  if (stack_top != 0) mm->stack_top = mm->start_stack = stack_top;
  if (mmap_base != 0) mm->mmap_base = mmap_base;
  task.mm = mm;
  {
    sim::SpanScope span(core_.ledger(), sim::Span::kPgdPin);
    core_.ops().enter_mmap(*mm);
  }
  switch_mm(mm.get());
  return pid;
}

Pid Kernel::new_task(VcpuId cpu, const std::string& comm) {
  if (cpu >= core_.nr_cpus()) throw InputError("no vCPU " + std::to_string(cpu));
  const Pid pid = next_pid_++;
  Task t;
  t.pid = pid;
  t.comm = comm;
  t.cpu = cpu;
  tasks_.emplace(pid, std::move(t));
  return pid;
}

Pid Kernel::spawn(const Image& image, VcpuId cpu) {
  const Pid pid = new_task(cpu, image.name);
  exec(pid, image);
  return pid;
}

}  // namespace pib::guest
