// SPDX-License-Identifier: MIT
// The auditor after a step, as the fuzz target runs it: one step (pin and unpin an L1 that maps
// a few frames) followed by the full auditor or by the incremental one (xen/audit_incremental),
// on a domain of Arg pages. The step alone is the reference; the incremental audit's cost should
// follow what the step wrote, the full audit's the domain's size.
#include <benchmark/benchmark.h>

#include "support/pv_fixture.hpp"
#include "xen/audit_incremental.hpp"

namespace pib::test {
namespace {

using namespace hw::pte_bits;

struct AuditedStep {
  explicit AuditedStep(uint64_t pages)
      : fx({.machine_frames = pages + 1024, .domain_pages = pages}), table(fx.make_table()) {
    for (uint64_t i = 0; i < 8; ++i) fx.update(table, i, fx.pte(fx.alloc(), kDataRw));
  }
  bool step() { return fx.pin(1, table) == 0 && fx.unpin(table) == 0; }
  PvFixture fx;
  Pfn table;
};

void BM_StepAlone(benchmark::State& state) {
  AuditedStep s(static_cast<uint64_t>(state.range(0)));
  for (auto _ : state) {
    if (!s.step()) state.SkipWithError("pin/unpin failed");
  }
}
BENCHMARK(BM_StepAlone)->Arg(160)->Arg(4096);

void BM_StepThenFullAudit(benchmark::State& state) {
  AuditedStep s(static_cast<uint64_t>(state.range(0)));
  for (auto _ : state) {
    if (!s.step() || !xen::audit_problems(s.fx.xen).empty()) state.SkipWithError("audit failed");
  }
}
BENCHMARK(BM_StepThenFullAudit)->Arg(160)->Arg(4096);

void BM_StepThenIncrementalAudit(benchmark::State& state) {
  AuditedStep s(static_cast<uint64_t>(state.range(0)));
  xen::IncrementalAudit audit(s.fx.xen);
  for (auto _ : state) {
    if (!s.step() || !audit.clean()) state.SkipWithError("audit failed");
  }
}
BENCHMARK(BM_StepThenIncrementalAudit)->Arg(160)->Arg(4096);

}  // namespace
}  // namespace pib::test
