// SPDX-License-Identifier: MIT
// "Writable page tables": a guest-kernel store or atomic RMW that faults on a read-only mapping
// of a validated L1 table is emulated by Xen (ptwr_do_page_fault / ptwr_emulated_update): the new
// entry is validated like a slow-path mod_l1_entry, written, and the old entry's refs dropped.
#include "xen/hypervisor.hpp"

namespace pib::xen {

using hw::Pte;
using sim::Event;

namespace {

// Software walk of a guest tree: the entry of the last level mapping `va` (Xen reads it through
// its linear page table).
std::optional<Pte> guest_leaf(const hw::MachineMemory& mem, Mfn root, Vaddr va) {
  if (root == kInvalidMfn) return std::nullopt;
  Mfn table = root;
  for (unsigned level = hw::kLevels; level >= 1; --level) {
    const Pte e{mem.read_entry(table, hw::table_index(va, level))};
    if (!e.present() || !mem.is_valid(e.mfn())) return std::nullopt;
    if (level > 1 && e.has(hw::pte_bits::kPse)) return std::nullopt;
    if (level == 1) return e;
    table = e.mfn();
  }
  return std::nullopt;
}

}  // namespace

std::optional<hw::MemResult> Hypervisor::ptwr_emulate(Vcpu& v, Domain& d,
                                                      const hw::PageFault& fault,
                                                      const hw::MemRequest& request) {
  const auto leaf = guest_leaf(mem_, machine_.cpu(v.pcpu).mmu().cr3(), fault.va);
  // pv_ro_page_fault (pv/ro-page-fault.c) emulates only a write whose effective L1 entry (the
  // last step of the walk, read through Xen's linear map) is present and read-only. A write
  // refused higher up, e.g. by a read-only self-map whose leaf is RW, is the guest's fault.
  if (!leaf || !leaf->present() || leaf->has(hw::pte_bits::kRw)) return std::nullopt;
  const Mfn table = leaf->mfn();
  if (!frames_.valid(table)) return std::nullopt;
  const PageInfo& pg = frames_[table];
  if (pg.owner != d.id || pg.type != PageType::kL1 || pg.type_count == 0 || !pg.validated) {
    return std::nullopt;
  }
  const uint64_t index = page_offset(fault.va.value) / 8;
  const Pte old_e{mem_.read_entry(table, index)};
  Pte new_e;
  switch (request.op) {
    case hw::MemOp::kStore:
    case hw::MemOp::kXchg:
      new_e = Pte{request.value};
      break;
    case hw::MemOp::kCmpXchg:
      if (old_e.raw() != request.expected) {
        ledger_.charge(Event::kXenPtwrEmulated);
        return hw::MemResult{true, old_e.raw(), std::nullopt};
      }
      new_e = Pte{request.value};
      break;
    case hw::MemOp::kAndNot:
      new_e = Pte{old_e.raw() & ~request.value};
      break;
    default:
      return std::nullopt;
  }
  if (new_e.present()) {
    if (new_e.flags() & l1_disallow_mask(d.may_use_cache_attrs())) return std::nullopt;
    new_e = adjust_guest_entry(new_e, 1);
    if (get_page_from_l1e(new_e, d) != abi::err::kOk) return std::nullopt;
  }
  ledger_.charge(Event::kXenPtwrEmulated);
  mem_.write_entry(table, index, new_e.raw());
  put_page_from_l1e(old_e, d);
  return hw::MemResult{true, old_e.raw(), std::nullopt};
}

}  // namespace pib::xen
