// SPDX-License-Identifier: MIT
#include "workload/host_memory.hpp"

#include <fstream>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "workload/workload.hpp"

namespace pib::workload {

namespace {
// A "Key:   123 kB" line of /proc/self/status, in bytes.
uint64_t status_field(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    return std::stoull(line.substr(key.size())) * 1024;
  }
  return 0;
}
}  // namespace

uint64_t current_rss_bytes() {
  return status_field("VmRSS:");
}

uint64_t peak_rss_bytes() {
  return status_field("VmHWM:");
}

void HostMemoryProbe::start() {
  f_ = HostMemoryFigures{};
  sampled_ = false;
#if defined(__GLIBC__)
  malloc_trim(0);  // so that the system's memory shows as growth, not as reused free heap
#endif
  // Resets VmHWM to the current RSS (Linux 4.0+); without it the mark may predate the run.
  std::ofstream("/proc/self/clear_refs") << "5";
  f_.rss_before = current_rss_bytes();
}

void HostMemoryProbe::attach(Workload& w) {
  w.set_peak_probe([this](system::GuestSystem& sys) { sample(sys); });
}

void HostMemoryProbe::sample(system::GuestSystem& sys) {
  sampled_ = true;
  const uint64_t rss = current_rss_bytes();
  if (rss > f_.rss_at_peak) f_.rss_at_peak = rss;
  const uint64_t touched = sys.machine().memory().backed_frames();
  if (touched > f_.touched_frames) f_.touched_frames = touched;
  const auto& pages = sys.kernel().core().pages();
  const uint64_t in_use = pages.nr_pages() - pages.free_pages();
  if (in_use > f_.guest_pages_in_use) f_.guest_pages_in_use = in_use;
}

HostMemoryFigures HostMemoryProbe::finish() {
  const uint64_t hwm = peak_rss_bytes();
  f_.hwm_growth = hwm > f_.rss_before ? hwm - f_.rss_before : 0;
  return f_;
}

}  // namespace pib::workload
