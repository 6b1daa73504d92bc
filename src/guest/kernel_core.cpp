// SPDX-License-Identifier: MIT
#include "guest/kernel_core.hpp"

#include <string>

#include "common/error.hpp"

namespace pib::guest {

KernelCore::KernelCore(PvOps& ops, sim::Ledger& ledger)
    : ops_(ops),
      ledger_(ledger),
      layout_(ops.boot_layout()),
      alloc_(layout_.nr_pages, ledger),
      pt_pages_(std::make_unique<PageAllocatorSource>(*this)),
      loaded_mm_(layout_.vcpus, nullptr),
      irq_off_(layout_.vcpus, 0) {
  init_mm_.pgd = layout_.swapper_pgd;
  for (uint32_t v = 0; v < layout_.vcpus; ++v) loaded_mm_[v] = &init_mm_;
  ledger_.set_cpu(layout_.vcpus - 1);  // sizes the per-vCPU clocks
  ledger_.set_cpu(0);
  alloc_.add_free_range(layout_.first_free, Pfn{layout_.nr_pages});
}

void KernelCore::irq_restore(VcpuId v) {
  if (irq_off_.at(v) == 0) model_bug("local_irq_restore without a matching save");
  if (--irq_off_[v] == 0) interrupt_window(v);
}

void KernelCore::take_pending_interrupt(VcpuId v) {
  if (irq_off_.at(v) != 0 || !ops_.timer_interrupt_pending(v)) return;
  // The handler runs on vCPU v with interrupts off, and the interrupted code resumes after it.
  const VcpuId interrupted = cpu_;
  ++irq_off_[v];
  set_cpu(v);
  irq_handler_(v);
  set_cpu(interrupted);
  --irq_off_[v];
}

uint64_t KernelCore::kaccess(const hw::MemRequest& request) {
  hw::MemRequest r = request;
  r.mode = hw::Mode::kSupervisor;
  const hw::MemResult res = ops_.access(cpu_, r);
  if (!res.ok) {
    model_bug("guest kernel access to " + std::to_string(r.va.value) + " faulted (error code " +
              std::to_string(res.fault ? res.fault->error_code : 0) + ")");
  }
  return res.value;
}

uint64_t KernelCore::kload(Vaddr va) {
  return kaccess(hw::MemRequest{va, hw::MemOp::kLoad});
}

void KernelCore::kstore(Vaddr va, uint64_t value) {
  kaccess(hw::MemRequest{va, hw::MemOp::kStore, hw::Mode::kSupervisor, value});
}

void KernelCore::zero_page(Pfn pfn) {
  kaccess(hw::MemRequest{direct_va(pfn), hw::MemOp::kZeroPage});
}

bool KernelCore::page_words_zero(Pfn pfn, uint64_t words) {
  return kaccess(hw::MemRequest{direct_va(pfn), hw::MemOp::kScanPage, hw::Mode::kSupervisor,
                                words}) == 1;
}

void KernelCore::copy_page(Pfn dst, Pfn src) {
  kaccess(hw::MemRequest{direct_va(dst), hw::MemOp::kCopyPage, hw::Mode::kSupervisor,
                         direct_va(src).value});
}

Pfn KernelCore::alloc_page(bool zeroed) {
  Pfn pfn = alloc_.alloc(0);
  if (pfn == kInvalidPfn && pt_pages_->reclaim(64) > 0) {
    pfn = alloc_.alloc(0);  // memory pressure: the page-table page source gave pages back
  }
  if (pfn == kInvalidPfn) {
    throw OutOfMemory("guest out of memory (" + std::to_string(layout_.nr_pages) + " pages)");
  }
  if (zeroed) zero_page(pfn);
  return pfn;
}

}  // namespace pib::guest
