// SPDX-License-Identifier: MIT
// fork: dup_mmap copies the VMAs and, for VMAs that need it, the page tables (copy_page_range),
// write-protecting private writable pages in both parent and child; then the platform gets the
// finished child tree (Xen: pin it) and the parent's TLB is flushed.
#include "common/error.hpp"
#include "guest/kernel.hpp"
#include "guest/pgtable.hpp"
#include "guest/tlb_policy.hpp"

namespace pib::guest {

Pid Kernel::fork(Pid parent_pid) {
  Task& parent = task_mut(parent_pid);
  enter(parent);
  core_.ledger().charge(sim::Event::kGuestFork);
  std::shared_ptr<Mm> child_mm = mm_alloc(parent.mm.get());
  dup_mmap(*child_mm, *parent.mm);
  child_mm->copy_of = nullptr;
  const Pid pid = next_pid_++;
  Task child;
  child.pid = pid;
  child.parent = parent_pid;
  child.comm = parent.comm;
  child.mm = std::move(child_mm);
  child.cpu = parent.cpu;
  tasks_.emplace(pid, std::move(child));
  return pid;
}

Pid Kernel::vfork(Pid parent_pid) {
  Task& parent = task_mut(parent_pid);
  enter(parent);
  core_.ledger().charge(sim::Event::kGuestFork);
  const Pid pid = next_pid_++;
  Task child;
  child.pid = pid;
  child.parent = parent_pid;
  child.comm = parent.comm;
  child.mm = parent.mm;  // CLONE_VM: the same address space, no copy
  child.mm->users++;
  child.cpu = parent.cpu;
  tasks_.emplace(pid, std::move(child));
  return pid;
}

void Kernel::dup_mmap(Mm& child, Mm& parent) {
  child.brk_start = parent.brk_start;
  child.brk = parent.brk;
  child.mmap_base = parent.mmap_base;
  child.stack_top = parent.stack_top;
  for (const auto& [start, vma] : parent.vmas) {
    child.vmas.emplace(start, vma);
    // vma_needs_copy: VMAs without anonymous pages are refilled by faults in the child.
    if (vma.anon_vma || vma.kind == VmaKind::kSpecial) copy_page_range(child, parent, vma);
  }
  {
    sim::SpanScope span(core_.ledger(), sim::Span::kPgdPin);
    core_.ops().enter_mmap(child);  // arch_dup_mmap (Xen: pin the child's tree)
  }
  PageTables(core_).flush_tlb_mm_range(parent, Vaddr{0}, kTlbFlushAll);  // flush_tlb_mm(oldmm)
}

void Kernel::copy_page_range(Mm& child, Mm& parent, const Vma& vma) {
  PageTables pt(core_);
  // Each level of the child is allocated where the parent has the entry above it, as
  // copy_pud_range/copy_pmd_range/copy_pte_range do.
  const auto [start, end] = vma.range();
  for (Vaddr a4 = start; a4 < end;) {
    const Vaddr n4 = std::min(align_down(a4, kPgdirSize) + kPgdirSize, end);
    if (auto p3 = pt.next_table(EntryRef{parent.pgd, table_index(a4, 4)})) {
      const Pfn c3 = pt.pud_alloc(child, a4);
      for (Vaddr a3 = a4; a3 < n4;) {
        const Vaddr n3 = std::min(align_down(a3, kPudSize) + kPudSize, n4);
        if (auto p2 = pt.next_table(EntryRef{*p3, table_index(a3, 3)})) {
          const Pfn c2 = pt.pmd_alloc(child, c3, a3);
          for (Vaddr a2 = a3; a2 < n3;) {
            const Vaddr n2 = std::min(align_down(a2, kPmdSize) + kPmdSize, n3);
            const EntryRef parent_pmd{*p2, table_index(a2, 2)};
            if (pt.next_table(parent_pmd)) {
              copy_pte_range(child, vma, EntryRef{c2, table_index(a2, 2)}, parent_pmd, a2, n2);
            }
            a2 = n2;
          }
        }
        a3 = n3;
      }
    }
    a4 = n4;
  }
}

hw::CopyWord Kernel::fork_entry(Mm& child, const Vma& vma, hw::Pte pte) {
  hw::CopyWord w;
  if (vma.cow() && pte.has(ptflags::kRw)) {
    w.clear_in_source = ptflags::kRw;
    pte = pte.without(ptflags::kRw);
  }
  if (vma.shared) pte = pte.without(ptflags::kDirty);  // pte_mkclean
  pte = pte.without(ptflags::kAccessed);               // pte_mkold
  const Pfn page = core_.ops().entry_pfn(pte);
  if (page != zero_page_) {
    Page& pg = core_.pages().page(page);
    pg.refcount++;
    pg.mapcount++;
    core_.ledger().charge(sim::Event::kGuestForkPtes);
  }
  child.rss++;
  w.store = pte.raw();
  return w;
}

void Kernel::copy_pte_range(Mm& child, const Vma& vma, EntryRef child_pmd, EntryRef parent_pmd,
                            Vaddr start, Vaddr end) {
  PageTables pt(core_);
  const Pfn parent_l1 = *pt.next_table(parent_pmd);
  const Pfn child_l1 = pt.pte_alloc(child, child_pmd.table, start);
  PvOps& ops = core_.ops();
  ops.enter_lazy_mmu();
  const uint64_t first = table_index(start, 1);
  const uint64_t last = first + ((end - start + kPageSize - 1) >> kPageShift);
  // The child's entry of a parent entry has the same index: the range starts at the same
  // address in both trees.
  struct Context {
    Kernel* kernel;
    Mm* child;
    const Vma* vma;
  } context{this, &child, &vma};
  auto entry = [](void* c, uint32_t /*index*/, uint64_t word) {
    auto* ctx = static_cast<Context*>(c);
    return ctx->kernel->fork_entry(*ctx->child, *ctx->vma, hw::Pte{word});
  };
  if (!ops.copy_present_run(EntryRef{parent_l1, first}, last, child_l1, entry, &context)) {
    for (auto found = core_.next_present(parent_l1, first, last); found.index < last;
         found = core_.next_present(parent_l1, found.index + 1, last)) {
      const hw::CopyWord w = fork_entry(child, vma, found.entry);
      if (w.clear_in_source != 0) ops.ptep_set_wrprotect(EntryRef{parent_l1, found.index});
      ops.set_pte(EntryRef{child_l1, found.index}, hw::Pte{w.store});
    }
  }
  ops.leave_lazy_mmu();
}

}  // namespace pib::guest
