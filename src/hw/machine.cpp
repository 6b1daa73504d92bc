// SPDX-License-Identifier: MIT
#include "hw/machine.hpp"

#include "common/error.hpp"

namespace pib::hw {

Machine::Machine(MachineParams params, sim::Ledger& ledger)
    : params_(params), ledger_(ledger), memory_(params.frames, ledger) {
  if (params.cpus == 0) throw InputError("machine: at least one CPU is needed");
  if (params.frames < 64) throw InputError("machine: at least 64 frames of memory are needed");
  for (CpuId id = 0; id < params.cpus; ++id) {
    cpus_.push_back(std::make_unique<Cpu>(id, memory_, ledger, params.tlb));
  }
  if (params.iommu) iommu_ = std::make_unique<Iommu>(memory_, ledger, *params.iommu);
}

Machine::Machine(const Machine& source, sim::Ledger& ledger)
    : params_(source.params_), ledger_(ledger), memory_(source.memory_, ledger) {
  for (const auto& cpu : source.cpus_)
    cpus_.push_back(std::make_unique<Cpu>(*cpu, memory_, ledger));
  if (source.iommu_) iommu_ = std::make_unique<Iommu>(*source.iommu_, memory_, ledger);
}

void Machine::restore(const Machine& source) {
  if (source.cpus_.size() != cpus_.size() || !source.iommu_ != !iommu_) {
    model_bug("machine restore: the source is not a copy of this machine");
  }
  params_ = source.params_;
  memory_.restore(source.memory_);
  for (std::size_t c = 0; c < cpus_.size(); ++c) cpus_[c]->restore(*source.cpus_[c]);
  if (iommu_) iommu_->restore(*source.iommu_);
}

}  // namespace pib::hw
