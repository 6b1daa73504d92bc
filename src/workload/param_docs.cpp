// SPDX-License-Identifier: MIT
// What every workload parameter means: its default, its unit and what it changes. A unit test
// checks that every key a workload accepts is here, so `workload --list` never shows an
// undocumented one.
#include <array>

#include "workload/workload.hpp"

namespace pib::workload {

namespace {

// clang-format off
constexpr std::array<ParamDoc, 31> kParamDocs{{
  {"parent_image", "lmbench-hello (unixbench.spawn: tiny-static)", "image", "built-in program the forking parent runs (tiny-static, lmbench-hello, sh)"},
  {"parent_stack_writes", "1", "pages", "stack pages the parent writes after each wait (breaks copy-on-write)"},
  {"parent_data_writes", "1", "pages", "pages of the parent's first writable data segment written after each wait"},
  {"child_stack_writes", "1", "pages", "stack pages the child writes when fork() returns in it"},
  {"parent_heap_pages", "0", "pages", "private anonymous pages the parent writes at setup (fork-heap64: 16384 = 64 MiB)"},
  {"exec_image", "lmbench-hello", "image", "program the child execs"},
  {"shell_image", "sh", "image", "the shell: lat_proc.shell's sh -c, or the shell running unixbench scripts"},
  {"image", "tiny-static", "image", "program that execs itself (unixbench.execl)"},
  {"copies", "1 (unixbench.shell8: 8)", "processes", "concurrent shell-script copies, 1..64, round-robin over the vCPUs"},
  {"commands", "6", "commands", "external commands each script runs per iteration (fork of the shell + execve)"},
  {"command_image", "sh", "image", "the dynamically linked utility each script command execs"},
  {"children", "100 (proc.save_restore: 8)", "processes", "children forked and kept alive at once"},
  {"child_pages", "16", "pages", "anonymous pages each child writes while alive"},
  {"burst", "32", "processes", "proc.fluctuating: children alive at once in each burst"},
  {"lull", "64", "rounds", "proc.fluctuating: single fork+exit rounds after each burst"},
  {"warm_rounds", "16", "rounds", "proc.save_restore: fork+exit rounds before the first save, so caches hold tables"},
  {"pages", "256 (mem.mmap_touch: 512 = 2 MiB)", "pages", "working set of the CPU-bound program; the area mem.mmap_touch maps, writes and unmaps"},
  {"trace", "(required)", "file", "trace.replay: a trace from pibooster capture, or a snapshot JSON from pibooster snapshot"},
  {"op", "fork_exit", "fork_exit|exit", "trace.replay of a snapshot: what the rebuilt process does"},
  {"rounds", "4", "passes", "passes over the working set per iteration"},
  {"packets", "512", "packets", "packets the NIC moves per iteration"},
  {"packet_bytes", "1500", "bytes", "bytes per packet, 1..4096"},
  {"ring", "256", "descriptors", "descriptors in the driver's rx/tx ring"},
  {"buffers", "pool", "pool|per_request", "DMA buffers: a stable pool mapped once, or mapped and unmapped per request"},
  {"churn", "none", "workload", "a process workload run in the same domain while the device streams (e.g. lat_proc.fork)"},
  {"churn_ops", "0 (1 when churn is set)", "operations", "churn operations per iteration, interleaved with the device's work"},
  {"requests", "64", "requests", "block requests per iteration"},
  {"request_kib", "128 (disk.rand: 4)", "KiB", "bytes per block request"},
  {"queue_depth", "32", "requests", "requests in flight at most"},
  {"buffer_pages", "4096", "pages", "pages of the buffer area requests are read into"},
  {"write", "0", "0|1", "1: requests write instead of read"},
}};
// clang-format on

}  // namespace

const ParamDoc* param_doc(std::string_view key) {
  for (const ParamDoc& d : kParamDocs) {
    if (d.key == key) return &d;
  }
  return nullptr;
}

}  // namespace pib::workload
