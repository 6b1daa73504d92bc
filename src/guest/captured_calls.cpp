// SPDX-License-Identifier: MIT
// The calls replaying a captured program needs besides fork/exec/mmap/munmap/brk/mprotect:
// madvise's page-dropping advice, mremap's in-place resize, stack growth, and an exec whose
// layout is the one the real kernel produced (the mappings are given, not computed from an
// image: the randomised bases, the ELF segments and the interpreter are as captured), run
// through exec's own steps: strings at STACK_TOP_MAX, activation, the stack's mprotect_fixup and
// shift_arg_pages to the captured top.
#include <string>

#include "common/error.hpp"
#include "common/hex.hpp"
#include "guest/kernel.hpp"
#include "guest/pgtable.hpp"

namespace pib::guest {

namespace {
constexpr uint64_t page_align_up(uint64_t v) {
  return (v + kPageSize - 1) & ~(kPageSize - 1);
}
}  // namespace

void Kernel::madvise_dontneed(Pid pid, uint64_t addr, uint64_t length) {
  Task& t = task_mut(pid);
  enter(t);
  if (page_offset(addr) != 0) throw InputError("madvise: unaligned address " + hex(addr));
  const uint64_t end = addr + page_align_up(length);
  if (end <= addr || end > kTaskSize) throw InputError("madvise: bad range at " + hex(addr));
  Mm& mm = *t.mm;
  // madvise_dontneed_single_vma → zap_page_range_single per VMA: the PTEs go (their pages are
  // put after the flush), the tables stay: only munmap's free_pgtables frees tables.
  PageTables pt(core_);
  Gather tlb;
  tlb.mm = &mm;
  const Vma* first = mm.find_vma(addr);
  auto it = first != nullptr ? mm.vmas.find(first->start) : mm.vmas.lower_bound(addr);
  for (; it != mm.vmas.end() && it->second.start < end; ++it) {
    const Vma& v = it->second;
    const Vaddr s{std::max(v.start, addr)};
    const Vaddr e{std::min(v.end, end)};
    if (s < e) pt.zap_range(tlb, mm, s, e);
  }
  pt.finish(tlb);
}

uint64_t Kernel::mremap_in_place(Pid pid, uint64_t addr, uint64_t old_length, uint64_t new_length) {
  Task& t = task_mut(pid);
  enter(t);
  if (page_offset(addr) != 0) throw InputError("mremap: unaligned address " + hex(addr));
  const uint64_t old_end = addr + page_align_up(old_length);
  const uint64_t new_end = addr + page_align_up(new_length);
  Mm& mm = *t.mm;
  Vma* v = mm.find_vma(addr);
  if (v == nullptr || v->end < old_end) throw InputError("mremap: " + hex(addr) + " is not mapped");
  if (new_end < old_end) {
    munmap(pid, new_end, old_end - new_end);  // shrinking is an unmap of the tail
  } else if (new_end > old_end) {
    if (v->end != old_end || !range_is_free(mm, old_end, new_end)) {
      throw InputError("mremap: no room to grow the mapping at " + hex(addr) + " in place");
    }
    v->end = new_end;  // vma_expand: the new pages come from faults
  }
  return addr;
}

uint64_t Kernel::mremap_move(Pid pid, uint64_t addr, uint64_t old_length, uint64_t new_length,
                             uint64_t new_addr, bool keep_old) {
  Task& t = task_mut(pid);
  enter(t);
  const uint64_t old_len = page_align_up(old_length);
  const uint64_t new_len = page_align_up(new_length);
  if (page_offset(addr) != 0 || page_offset(new_addr) != 0 || new_len == 0 ||
      new_addr + new_len > kTaskSize) {
    throw InputError("mremap: bad move of " + hex(addr) + " to " + hex(new_addr));
  }
  Mm& mm = *t.mm;
  const Vma* v = mm.find_vma(addr);
  if (v == nullptr || v->end < addr + old_len) {
    throw InputError("mremap: " + hex(addr) + " is not mapped");
  }
  // copy_vma: the new mapping has the old one's properties, its file offset moved along.
  Vma moved = *v;
  moved.pgoff += (addr - v->start) >> kPageShift;
  moved.start = new_addr;
  moved.end = new_addr + new_len;
  munmap(pid, new_addr, new_len);  // MREMAP_FIXED replaces what was there
  insert_vma(mm, moved);
  // move_page_tables carries the PTEs over, then the old range is unmapped (no PTEs left: it
  // frees what tables it can).
  PageTables(core_).move_page_tables(mm, Vaddr{addr}, Vaddr{new_addr}, std::min(old_len, new_len));
  if (!keep_old) munmap(pid, addr, old_len);
  return new_addr;
}

void Kernel::expand_stack(Pid pid, uint64_t new_start) {
  Mm& mm = *task_mut(pid).mm;
  for (auto& [start, vma] : mm.vmas) {
    if (vma.kind != VmaKind::kStack) continue;
    if (new_start >= vma.start) return;
    if (page_offset(new_start) != 0 || !range_is_free(mm, new_start, vma.start)) {
      throw InputError("stack cannot grow down to " + hex(new_start));
    }
    // expand_downwards: the VMA's start moves; pages below come from faults.
    Vma grown = vma;
    grown.start = new_start;
    mm.vmas.erase(start);
    insert_vma(mm, grown);
    return;
  }
}

void Kernel::exec_layout_into(Task& t, const ExecLayout& layout) {
  core_.ledger().charge(sim::Event::kGuestExec);
  const Vma* stack = nullptr;
  for (const Vma& v : layout.vmas) {
    if (v.kind == VmaKind::kStack) stack = &v;
  }
  if (stack == nullptr) throw InputError("exec layout without a [stack] mapping");
  std::shared_ptr<Mm> mm = mm_alloc();
  mm->mmap_base = stack->start;
  // The same steps as exec() (exec_stack.cpp), with the captured stack top instead of a draw:
  // bprm_mm_init + copy_strings at STACK_TOP_MAX on the private mm, the strings' pages faulted
  // in there.
  const uint64_t string_pages = std::clamp<uint64_t>(layout.arg_pages, 1, stack->pages());
  Vma args = *stack;
  args.end = kTaskSize;
  args.start = kTaskSize - string_pages * kPageSize;
  insert_vma(*mm, args);
  for (uint64_t va = args.end - kPageSize; va >= args.start; va -= kPageSize) {
    if (!handle_mm_fault(*mm, Vaddr{va}, hw::Access::kWrite))
      model_bug("argument page fault failed");
  }
  // exec_mmap: activate (under Xen: pin), then drop the old mm.
  std::shared_ptr<Mm> old = std::move(t.mm);
  t.mm = mm;
  t.comm = layout.comm;
  {
    sim::SpanScope span(core_.ledger(), sim::Span::kPgdPin);
    core_.ops().enter_mmap(*mm);
  }
  switch_mm(mm.get());
  if (old) mmput(old);
  // setup_arg_pages: mprotect_fixup, then shift_arg_pages down to where the real kernel put the
  // stack (the captured top), then the stack at its captured size (expand_stack).
  change_protection(*mm, mm->vmas.at(args.start));
  const uint64_t shift = kTaskSize - stack->end;
  if (shift != 0) shift_arg_pages(*mm, args.start, shift);
  mm->vmas.erase(args.start - shift);
  insert_vma(*mm, *stack);
  mm->stack_top = stack->end;
  // The program, the interpreter and the special mappings where the real exec left them; the
  // pages create_elf_tables wrote come from the replay's touches.
  for (const Vma& v : layout.vmas) {
    if (&v != stack) insert_vma(*mm, v);
  }
  mm->brk_start = mm->brk = layout.brk_start;
}

void Kernel::exec_layout(Pid pid, const ExecLayout& layout) {
  Task& t = task_mut(pid);
  enter(t);
  exec_layout_into(t, layout);
}

Pid Kernel::spawn_exec_layout(const ExecLayout& layout, VcpuId cpu) {
  const Pid pid = new_task(cpu, layout.comm);
  exec_layout(pid, layout);
  return pid;
}

}  // namespace pib::guest
