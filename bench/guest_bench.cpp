// SPDX-License-Identifier: MIT
// Simulator speed of guest operations (host time per simulated operation). Against the real
// operations of this machine: bench/ratio_bench.cpp (a real fork of this large benchmark
// process would not be the operation simulated).
#include <benchmark/benchmark.h>

#include "system/guest_system.hpp"
#include "workload/host_memory.hpp"
#include "workload/workload.hpp"

namespace {

using pib::guest::Pid;

void fork_exit(benchmark::State& state, pib::system::PvOpsKind kind, uint64_t heap_pages) {
  pib::system::GuestSystemConfig cfg;
  cfg.pvops = kind;
  cfg.guest_pages = 65536;
  pib::system::GuestSystem sys(cfg);
  auto& k = sys.kernel();
  const auto img = pib::guest::builtin_image("lmbench-hello");
  const Pid p = k.spawn(img);
  k.run_startup(p, img);
  if (heap_pages != 0) {
    const uint64_t a = k.mmap(p, pib::guest::MapRequest::anonymous(heap_pages * pib::kPageSize));
    for (uint64_t i = 0; i < heap_pages; ++i) k.store(p, a + i * pib::kPageSize, i);
  }
  for (auto _ : state) {
    const Pid c = k.fork(p);
    k.exit(c);
    k.schedule(p);
  }
}

void BM_ForkExitXen(benchmark::State& s) {
  fork_exit(s, pib::system::PvOpsKind::kXen, 0);
}
void BM_ForkExitNative(benchmark::State& s) {
  fork_exit(s, pib::system::PvOpsKind::kNative, 0);
}
// A process with 100 MiB of touched private memory (25,600 PTEs copied and torn down).
void BM_ForkExit100MiBXen(benchmark::State& s) {
  fork_exit(s, pib::system::PvOpsKind::kXen, 25600);
}
// The host-memory target (docs/cost-model.md): a 64-GiB guest with 1,000 live processes.
// Counters: resident-set growth at the workload's peak, the guest memory touched (machine
// frames holding data x 4 KiB) and their ratio (target <= 1.2).
void BM_HostMemory64GiB1000Procs(benchmark::State& state) {
  pib::workload::HostMemoryFigures f;
  for (auto _ : state) {
    pib::workload::HostMemoryProbe probe;
    probe.start();
    pib::system::GuestSystemConfig cfg;
    cfg.guest_pages = uint64_t{16} << 20;
    pib::system::GuestSystem sys(cfg);
    pib::workload::Params p;
    p.set("children", "1000");
    auto w = pib::workload::make_workload("proc.population", p);
    probe.attach(*w);
    pib::workload::run(sys, *w, "proc.population", 1, 0);
    f = probe.finish();
  }
  state.counters["host_bytes"] = static_cast<double>(f.host_growth());
  state.counters["touched_bytes"] = static_cast<double>(f.touched_bytes());
  state.counters["ratio"] = f.ratio();
}

BENCHMARK(BM_ForkExitXen);
BENCHMARK(BM_ForkExitNative);
BENCHMARK(BM_ForkExit100MiBXen)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_HostMemory64GiB1000Procs)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
