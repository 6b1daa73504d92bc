// SPDX-License-Identifier: MIT
// Simulator speed (host time) of the hot paths: a hardware page walk, the validation and
// devalidation of a full L1 table, and building a PV domain. Reported by `make bench`; tests
// never assert on these numbers.
#include <benchmark/benchmark.h>

#include "support/pv_fixture.hpp"

namespace pib::test {
namespace {

using namespace hw::pte_bits;

void BM_HardwareWalkTlbMiss(benchmark::State& state) {
  PvFixture fx;
  const Pfn data = fx.alloc();
  auto& cpu = fx.machine.cpu(0);
  for (auto _ : state) {
    cpu.mmu().tlb().invlpg(fx.va(data));
    benchmark::DoNotOptimize(cpu.mmu().translate(fx.va(data), hw::Access::kRead, hw::Mode::kUser));
  }
}
BENCHMARK(BM_HardwareWalkTlbMiss);

void BM_PinUnpinFullL1(benchmark::State& state) {
  PvFixture fx({.machine_frames = 4096, .domain_pages = 2048});
  const Pfn table = fx.alloc();
  for (uint64_t i = 0; i < kEntriesPerTable; ++i) {
    fx.store(table, i, fx.pte(Pfn{fx.si.first_free_pfn.value + 8 + i}, kDataRo | kUser));
  }
  fx.remap(table, false);
  for (auto _ : state) {
    if (fx.pin(1, table) != 0 || fx.unpin(table) != 0) state.SkipWithError("pin/unpin failed");
  }
  state.SetItemsProcessed(state.iterations() * 2 * kEntriesPerTable);
}
BENCHMARK(BM_PinUnpinFullL1);

void BM_BuildPvDomain64MiB(benchmark::State& state) {
  for (auto _ : state) {
    PvFixture fx({.machine_frames = 20000, .domain_pages = 16384});
    benchmark::DoNotOptimize(fx.si.p2m.size());
  }
}
BENCHMARK(BM_BuildPvDomain64MiB)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace pib::test

BENCHMARK_MAIN();
