// SPDX-License-Identifier: MIT
#include "guest/xen/multicall_batch.hpp"

#include <string>

#include "common/error.hpp"
#include "guest/kernel_core.hpp"

namespace pib::guest {

abi::MulticallEntry& MulticallBatch::entry(abi::HypercallNr op, std::size_t arg_bytes) {
  if (entries_.size() == kMaxEntries || arg_used_ + arg_bytes >= kArgBytes) flush();
  arg_used_ += arg_bytes;
  abi::MulticallEntry& e = entries_.emplace_back();
  e.op = op;
  return e;
}

void MulticallBatch::extend_mmu_update(const abi::MmuUpdate& req) {
  if (!entries_.empty() && entries_.back().op == abi::HypercallNr::kMmuUpdate &&
      arg_used_ + kMmuUpdateBytes < kArgBytes) {
    arg_used_ += kMmuUpdateBytes;
    entries_.back().mmu_updates.push_back(req);
    return;
  }
  entry(abi::HypercallNr::kMmuUpdate, kMmuUpdateBytes).mmu_updates.push_back(req);
}

void MulticallBatch::extend_mmuext_op(const abi::MmuextOp& op) {
  if (!entries_.empty() && entries_.back().op == abi::HypercallNr::kMmuextOp &&
      arg_used_ + kMmuextOpBytes < kArgBytes) {
    arg_used_ += kMmuextOpBytes;
    entries_.back().mmuext_ops.push_back(op);
    return;
  }
  mmuext_op(op);
}

void MulticallBatch::mmuext_op(const abi::MmuextOp& op) {
  entry(abi::HypercallNr::kMmuextOp, kMmuextOpBytes).mmuext_ops.push_back(op);
}

void MulticallBatch::update_va_mapping(Vaddr va, hw::Pte val, uint64_t flags) {
  abi::MulticallEntry& e = entry(abi::HypercallNr::kUpdateVaMapping, 0);
  e.uvm = abi::UpdateVaMapping{va, val.raw(), flags, 0};  // the ABI carries the raw entry
}

void MulticallBatch::callback(std::function<void()> fn) {
  if (callbacks_.size() == kMaxCallbacks) flush();
  callbacks_.push_back(std::move(fn));
}

void MulticallBatch::flush() {
  std::vector<abi::MulticallEntry> batch;
  batch.swap(entries_);
  std::vector<std::function<void()>> callbacks;
  callbacks.swap(callbacks_);
  arg_used_ = 0;
  if (core_ != nullptr) core_->irq_save(vcpu_);
  if (!batch.empty()) {
    ledger_.charge(sim::Event::kGuestMcFlush);
    int64_t rc = 0;
    if (batch.size() == 1) {
      ledger_.charge(sim::Event::kGuestMcIssuedDirect);
      abi::MulticallEntry& e = batch.front();
      uint32_t done = 0;
      switch (e.op) {
        case abi::HypercallNr::kMmuUpdate:
          rc = port_.mmu_update(vcpu_, e.mmu_updates, &done, e.foreigndom);
          break;
        case abi::HypercallNr::kMmuextOp:
          rc = port_.mmuext_op(vcpu_, e.mmuext_ops, &done, e.foreigndom);
          break;
        case abi::HypercallNr::kUpdateVaMapping:
          rc = port_.update_va_mapping(vcpu_, e.uvm);
          break;
        default:
          model_bug("unexpected single hypercall in a multicall batch");
      }
      e.result = rc;
    } else {
      rc = port_.multicall(vcpu_, batch);
    }
    // Linux BUG()s on a failed batched page-table operation; the model treats it as a guest bug.
    if (rc != 0) model_bug("guest hypercall batch failed: " + std::to_string(rc));
    for (const abi::MulticallEntry& e : batch) {
      if (e.result != 0) {
        model_bug("guest multicall entry (op " + std::to_string(static_cast<uint32_t>(e.op)) +
                  ") failed: " + std::string(abi::error_name(e.result)));
      }
    }
  }
  for (auto& fn : callbacks) fn();
  if (core_ != nullptr) core_->irq_restore(vcpu_);  // a timer interrupt held back is taken here
}

void MulticallBatch::issue(LazyMode mode) {
  if (mode == LazyMode::kNone || lazy_ != mode) flush();
}

}  // namespace pib::guest
