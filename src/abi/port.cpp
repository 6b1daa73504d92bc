// SPDX-License-Identifier: MIT
#include "abi/port.hpp"

namespace pib::abi {

// The reference for every faster implementation: Cpu::take_run's operations one port call each.
hw::TakeRun HypervisorPort::guest_take_run(VcpuId vcpu, Vaddr va, uint32_t count, uint64_t mask,
                                           hw::TakenWord* taken) {
  hw::TakeRun run;
  while (run.done < count) {
    const hw::LoadRun scan = guest_load_run(vcpu, Vaddr{va.value + uint64_t{run.done} * 8},
                                            count - run.done, mask, nullptr);
    run.done += scan.done;
    run.last = scan.last;
    if (!scan.last.ok) return run;
    if ((scan.last.value & mask) == 0) continue;
    const uint32_t index = run.done - 1;
    const Vaddr word{va.value + uint64_t{index} * 8};
    run.last = guest_access(vcpu, hw::MemRequest{word, hw::MemOp::kLoad});
    if (!run.last.ok) return run;
    const uint64_t value = run.last.value;
    run.last = guest_access(vcpu, hw::MemRequest{word, hw::MemOp::kStore, hw::Mode::kUser, 0});
    if (!run.last.ok) return run;
    taken[run.taken++] = hw::TakenWord{index, value};
  }
  return run;
}

}  // namespace pib::abi
