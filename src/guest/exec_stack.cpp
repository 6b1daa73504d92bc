// SPDX-License-Identifier: MIT
// The new process's stack, in Linux 6.1's order (fs/exec.c, fs/binfmt_elf.c):
//   bprm_mm_init     a one-page stack VMA ending at STACK_TOP_MAX in the new, not yet active mm;
//   copy_strings     the file name, envp and argv copied in below its top, the pages faulted in
//                    through get_user_pages_remote (no MMU access: plain walks of the new mm);
//   setup_arg_pages  on the activated (under Xen: pinned) mm: mprotect_fixup of the stack to its
//                    final flags, shift_arg_pages down to the randomised top (move_page_tables,
//                    then free_pgd_range of what the old place used), expand_stack by 128 KiB;
//   create_elf_tables  argc, argv/envp pointers, auxv, platform string and AT_RANDOM bytes
//                    written by the kernel below a randomised offset (arch_align_stack), faulting
//                    in whichever stack pages they land on.
#include "common/error.hpp"
#include "guest/kernel.hpp"
#include "guest/pgtable.hpp"

namespace pib::guest {

namespace {
constexpr uint64_t kStackTopMax = kTaskSize;             // x86-64 STACK_TOP_MAX (= TASK_SIZE_MAX)
constexpr uint64_t kStackExpand = uint64_t{128} * 1024;  // setup_arg_pages' stack_expand
constexpr uint64_t kStackRlimit = 8ULL << 20;            // RLIMIT_STACK soft limit
constexpr uint64_t kPlatformBytes = sizeof("x86_64");    // ELF_PLATFORM, with its NUL
constexpr uint64_t kRandomBytes = 16;                    // AT_RANDOM
// x86-64 auxv pairs create_elf_tables writes (ARCH_DLINFO's two, the generic ones, AT_HWCAP2,
// AT_EXECFN, AT_PLATFORM and AT_NULL).
constexpr uint64_t kAuxvPairs = 21;

constexpr uint64_t page_down(uint64_t v) {
  return v & ~(kPageSize - 1);
}
constexpr uint64_t page_up(uint64_t v) {
  return (v + kPageSize - 1) & ~(kPageSize - 1);
}
}  // namespace

uint64_t Kernel::bprm_stack(Mm& mm, const Image& image) {
  // bprm->p starts one pointer below the top; the strings go below it.
  const uint64_t p = kStackTopMax - sizeof(uint64_t) - image.string_bytes;
  Vma stack;
  stack.start = page_down(p);
  stack.end = kStackTopMax;
  stack.prot = prot::kRead | prot::kWrite;
  stack.kind = VmaKind::kStack;
  stack.name = "[stack]";
  insert_vma(mm, stack);
  // get_arg_page, top page first (copy_string_kernel copies the file name first, at the top).
  for (uint64_t va = kStackTopMax - kPageSize; va >= stack.start; va -= kPageSize) {
    if (!handle_mm_fault(mm, Vaddr{va}, hw::Access::kWrite))
      model_bug("argument page fault failed");
  }
  return p;
}

uint64_t Kernel::setup_arg_pages(Mm& mm, uint64_t p, uint64_t stack_top) {
  // arch_align_stack, then PAGE_ALIGN: the random part below 8 KiB moves the top by 0-2 pages.
  stack_top = page_up((stack_top - aslr_.align_stack_offset()) & ~uint64_t{15});
  auto it = mm.vmas.find(page_down(p));
  if (it == mm.vmas.end() || it->second.kind != VmaKind::kStack) model_bug("no exec stack");
  const uint64_t shift = it->second.end - stack_top;
  // mprotect_fixup to the final stack flags (the temporary soft-dirty and incomplete-setup flags
  // go): change_protection commits every present PTE even though its bits stay the same, and
  // pte_needs_flush finds nothing to flush.
  change_protection(mm, it->second);
  if (shift != 0) shift_arg_pages(mm, it->second.start, shift);
  // expand_stack: the VMA grows down by stack_expand (within the rlimit); no page is touched.
  Vma s = mm.vmas.extract(mm.vmas.find(page_down(p - shift))).mapped();
  const uint64_t size = s.end - s.start;
  s.start = size + kStackExpand > kStackRlimit ? s.end - kStackRlimit : s.start - kStackExpand;
  mm.stack_top = s.end;
  insert_vma(mm, s);
  return p - shift;
}

void Kernel::shift_arg_pages(Mm& mm, uint64_t old_start, uint64_t shift) {
  Vma v = mm.vmas.extract(old_start).mapped();
  const uint64_t old_end = v.end;
  const uint64_t length = old_end - old_start;
  const uint64_t new_start = old_start - shift;
  const uint64_t new_end = old_end - shift;
  // vma_adjust: the VMA covers both places while the tables move.
  v.start = new_start;
  insert_vma(mm, v);
  PageTables pt(core_);
  pt.move_page_tables(mm, Vaddr{old_start}, Vaddr{new_start}, length);
  // free_pgd_range of the old place: from new_end when the two overlap, else from old_start; the
  // floor is the new end, the ceiling the next mapping (none: the stack is the only one yet).
  Gather tlb;
  tlb.mm = &mm;
  const auto next = mm.vmas.upper_bound(new_start);
  const Vaddr ceiling{next != mm.vmas.end() ? next->second.start : 0};
  const Vaddr from{new_end > old_start ? new_end : old_start};
  pt.free_pgtables(tlb, mm, {{from, Vaddr{old_end}}}, Vaddr{new_end}, ceiling);
  pt.finish(tlb);
  // vma_adjust again: only the new place.
  mm.vmas.at(new_start).end = new_end;
}

void Kernel::create_elf_tables(Mm& mm, const Image& image, uint64_t p) {
  // arch_align_stack (again, its own draw), the platform string and the random bytes, then the
  // auxv, envp, argv and argc below them, 16-byte aligned.
  const uint64_t top = (p - aslr_.align_stack_offset()) & ~uint64_t{15};
  const uint64_t below = top - kPlatformBytes - kRandomBytes;
  const uint64_t words = 2 * kAuxvPairs + (image.argc + 1) + (image.envc + 1) + 1;
  const uint64_t sp = (below - words * sizeof(uint64_t)) & ~uint64_t{15};
  mm.start_stack = sp;
  // put_user/copy_to_user from the kernel: every page of [sp, top) written, each fault a real
  // page fault taken in kernel mode.
  for (uint64_t va = page_down(sp); va < top; va += kPageSize) {
    put_user(mm, std::max(va, sp));
  }
}

void Kernel::put_user(Mm& mm, uint64_t va) {
  const VcpuId cpu = core_.cpu();
  for (int attempt = 0; attempt < 2; ++attempt) {
    const hw::MemResult res = core_.ops().access(
        cpu, hw::MemRequest{Vaddr{va}, hw::MemOp::kStore, hw::Mode::kSupervisor, 0});
    if (res.ok) return;
    if (!handle_mm_fault(mm, Vaddr{va}, hw::Access::kWrite)) model_bug("put_user fault failed");
  }
  model_bug("put_user kept faulting");
}

}  // namespace pib::guest
