// SPDX-License-Identifier: MIT
// The simulated machine: memory plus CPUs (each with its own MMU and TLB). System software (the
// hypervisor) is given a Machine; the machine never calls up into it except through the trap
// handler each CPU was given.
#pragma once

#include <memory>
#include <vector>

#include "hw/cpu.hpp"
#include "hw/iommu.hpp"
#include "hw/machine_memory.hpp"

namespace pib::hw {

struct MachineParams {
  uint64_t frames = 16384;  // 64 MiB
  uint32_t cpus = 1;
  TlbParams tlb{};
  std::optional<IommuParams> iommu;  // none: devices DMA to machine addresses untranslated
};

class Machine {
 public:
  Machine(MachineParams params, sim::Ledger& ledger);
  // A copy of `source`'s whole state (memory, CPUs, IOMMU) charging `ledger`: a machine restored
  // from a snapshot, independent of the original from then on. Its CPUs have no trap handler
  // until system software restored with it installs one.
  Machine(const Machine& source, sim::Ledger& ledger);
  // Holds `source`'s whole state again, in this machine's own storage; `source` must be the
  // machine this one was copied from, or another copy of it (ModelBug if its shape differs).
  // The CPUs keep their trap handlers.
  void restore(const Machine& source);
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  MachineMemory& memory() { return memory_; }
  const MachineMemory& memory() const { return memory_; }
  Cpu& cpu(CpuId id) { return *cpus_.at(id); }
  const Cpu& cpu(CpuId id) const { return *cpus_.at(id); }
  uint32_t cpu_count() const { return static_cast<uint32_t>(cpus_.size()); }
  sim::Ledger& ledger() { return ledger_; }
  const MachineParams& params() const { return params_; }
  Iommu* iommu() { return iommu_.get(); }
  const Iommu* iommu() const { return iommu_.get(); }

 private:
  MachineParams params_;
  sim::Ledger& ledger_;
  MachineMemory memory_;
  std::vector<std::unique_ptr<Cpu>> cpus_;
  std::unique_ptr<Iommu> iommu_;
};

}  // namespace pib::hw
