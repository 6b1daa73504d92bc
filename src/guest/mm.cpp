// SPDX-License-Identifier: MIT
// Address-space life cycle: mm_alloc/pgd_alloc, exit_mmap and exit, mmput/mmdrop/pgd_free.
#include <algorithm>
#include <string>

#include "common/error.hpp"
#include "guest/kernel.hpp"
#include "guest/pgtable.hpp"

namespace pib::guest {

std::shared_ptr<Mm> Kernel::mm_alloc(const Mm* copy_of) {
  auto mm = std::make_shared<Mm>();
  mm->id = next_mm_id_++;
  mm->copy_of = copy_of;
  sim::SpanScope span(core_.ledger(), sim::Span::kPgdAlloc);
  // pgd_alloc: a zeroed pgd page, the platform's part (Xen: the user pgd), then pgd_ctor copies
  // the kernel half from swapper_pg_dir — unless the source hands out constructed pgds.
  PtPageSource& source = core_.pt_pages();
  mm->pgd = source.alloc(TableKind::kPgd, *mm);
  core_.pages().page(mm->pgd).pt_level = PtLevel::kPgd;
  core_.ledger().charge(sim::Event::kGuestPgdAlloc);
  core_.ops().pgd_alloc(*mm);
  if (!source.constructed(TableKind::kPgd)) construct_table(core_, mm->pgd, TableKind::kPgd);
  mm->stack_top = kTaskSize;
  mm->mmap_base = kTaskSize - (uint64_t{128} << 20);  // below the stack gap (no randomisation)
  return mm;
}

void Kernel::pgd_free(Mm& mm) {
  const Page& pg = core_.pages().page(mm.pgd);
  if (pg.pinned && !pg.kept_pinned) model_bug("pgd_free of a pinned pgd");
  sim::SpanScope span(core_.ledger(), sim::Span::kPgdFree);
  core_.ops().pgd_free(mm);
  PtPageSource& source = core_.pt_pages();
  if (!source.constructed(TableKind::kPgd)) destruct_table(core_, mm.pgd, TableKind::kPgd);
  source.free(mm.pgd, TableKind::kPgd);
  core_.ledger().charge(sim::Event::kGuestPgdFree);
  mm.pgd = kInvalidPfn;
}

void Kernel::exit_mmap(Mm& mm) {
  {
    sim::SpanScope span(core_.ledger(), sim::Span::kPgdUnpin);
    core_.ops().exit_mmap(mm);  // Xen: drop every vCPU's reference, unpin the tree
  }
  PageTables pt(core_);
  Gather tlb;
  tlb.mm = &mm;
  tlb.fullmm = true;
  tlb.pages.reserve(mm.rss);  // at most one per mapped page: no regrowth (host work only)
  std::vector<VaRange> ranges;
  for (const auto& [start, vma] : mm.vmas) {
    const VaRange r = vma.range();
    pt.zap_range(tlb, mm, r.first, r.second);  // unmap_vmas
    ranges.push_back(r);
  }
  pt.free_pgtables(tlb, mm, ranges, Vaddr{0}, Vaddr{0});  // the whole address space
  pt.finish(tlb);
  mm.vmas.clear();
  if (mm.rss != 0 || mm.pt_pages_below_pgd() != 0) {
    model_bug("exit_mmap left " + std::to_string(mm.rss) + " pages and " +
              std::to_string(mm.pt_pages_below_pgd()) + " tables");
  }
}

void Kernel::mmput(const std::shared_ptr<Mm>& mm) {
  if (mm->users == 0) model_bug("mmput of a dead mm");
  if (--mm->users != 0) return;
  exit_mmap(*mm);
  mmdrop_if_unused(mm);
}

void Kernel::exit(Pid pid) {
  Task& t = task_mut(pid);
  enter(t);
  core_.ledger().charge(sim::Event::kGuestExit);
  // exit_mm: the task lets go of its mm; the vCPU keeps it loaded lazily until exit_mmap (Xen)
  // or the next switch (native) moves it to another mm.
  std::shared_ptr<Mm> mm = std::move(t.mm);
  t.alive = false;
  current_.at(t.cpu).reset();
  if (mm) mmput(mm);
}

}  // namespace pib::guest
