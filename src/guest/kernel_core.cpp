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
      rcu_(layout_.vcpus),
      loaded_mm_(layout_.vcpus, nullptr),
      irq_off_(layout_.vcpus, 0) {
  init_mm_.pgd = layout_.swapper_pgd;
  for (uint32_t v = 0; v < layout_.vcpus; ++v) loaded_mm_[v] = &init_mm_;
  ledger_.set_cpu(layout_.vcpus - 1);  // sizes the per-vCPU clocks
  ledger_.set_cpu(0);
  alloc_.add_free_range(layout_.first_free, Pfn{layout_.nr_pages});
  watermarks_ = Watermarks::linux_defaults(alloc_.free_pages());
}

void KernelCore::rcu_quiescent(VcpuId v) {
  std::vector<Rcu::Ready> ready = rcu_.quiescent(v);
  if (ready.empty()) return;
  ledger_.charge(sim::Event::kGuestRcuGracePeriods);
  // RCU_SOFTIRQ, on the vCPU whose quiescent state ended the grace period: it is in the kernel
  // now, while the vCPU that queued a callback may be running user code. (Linux runs each
  // callback on its own CPU, later; the work is the same, only the vCPU charged may differ.)
  const VcpuId self = cpu_;
  set_cpu(v);
  for (Rcu::Ready& r : ready) r.fn();
  set_cpu(self);
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

KernelCore::Found KernelCore::next_entry(Pfn table, uint64_t first, uint64_t end, uint64_t mask) {
  uint64_t i = first;
  while (i < end) {
    const hw::LoadRun r =
        ops_.load_run(cpu_, entry_va(EntryRef{table, i}), static_cast<uint32_t>(end - i),
                      hw::Mode::kSupervisor, mask, nullptr);
    check_run(r, entry_va(EntryRef{table, i}));
    i += r.done;
    if ((r.last.value & mask) != 0) return Found{i - 1, hw::Pte{r.last.value}};
  }
  return Found{end, hw::Pte{}};
}

void KernelCore::read_entries(Pfn table, uint64_t first, uint64_t count, uint64_t* out) {
  uint64_t done = 0;
  while (done < count) {
    const Vaddr va = entry_va(EntryRef{table, first + done});
    const hw::LoadRun r = ops_.load_run(cpu_, va, static_cast<uint32_t>(count - done),
                                        hw::Mode::kSupervisor, 0, out + done);
    check_run(r, va);
    done += r.done;
  }
}

void KernelCore::check_run(const hw::LoadRun& r, Vaddr start) const {
  if (r.last.ok) return;
  const uint64_t va = start.value + uint64_t{r.done - 1} * 8;
  model_bug("guest kernel access to " + std::to_string(va) + " faulted (error code " +
            std::to_string(r.last.fault ? r.last.fault->error_code : 0) + ")");
}

void KernelCore::kstore(Vaddr va, uint64_t value) {
  kaccess(hw::MemRequest{va, hw::MemOp::kStore, hw::Mode::kSupervisor, value});
}

void KernelCore::pgd_list_add(Pfn root, TableKind kind) {
  if (!pgd_list_.emplace(root, kind).second) {
    model_bug("pgd_list_add: pfn " + std::to_string(root.value) + " is listed already");
  }
}

void KernelCore::pgd_list_del(Pfn root) {
  if (pgd_list_.erase(root) == 0) {
    model_bug("pgd_list_del: pfn " + std::to_string(root.value) + " is not listed");
  }
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

void KernelCore::kswapd() {
  // Woken below the low watermark, kswapd reclaims until the high one. The only reclaimable
  // memory the model has is what page-table page sources hold (their shrinkers), so the
  // shrinkers are asked for the whole deficit at once; it runs here, on the allocating vCPU.
  const uint64_t free = alloc_.free_pages();
  if (free >= watermarks_.low) return;
  const uint64_t got = pt_pages_->reclaim(watermarks_.high - free, ReclaimFrom::kKswapd);
  ledger_.charge(sim::Event::kGuestReclaimPages, got);
}

Pfn KernelCore::try_alloc_page() {
  Pfn pfn = alloc_.alloc(0);
  if (pfn == kInvalidPfn) {
    // Direct reclaim: the allocation failed, so the shrinkers give back what they can.
    const uint64_t got = pt_pages_->reclaim(kDirectReclaimPages, ReclaimFrom::kDirect);
    ledger_.charge(sim::Event::kGuestReclaimPages, got);
    if (got > 0) pfn = alloc_.alloc(0);
  }
  if (pfn != kInvalidPfn) kswapd();
  return pfn;
}

Pfn KernelCore::alloc_page(bool zeroed) {
  const Pfn pfn = try_alloc_page();
  if (pfn == kInvalidPfn) {
    throw OutOfMemory("guest out of memory (" + std::to_string(layout_.nr_pages) + " pages)");
  }
  if (zeroed) zero_page(pfn);
  return pfn;
}

}  // namespace pib::guest
