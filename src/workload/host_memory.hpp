// SPDX-License-Identifier: MIT
// The simulator's own memory against the guest memory a run touched: the host-memory target of
// the cost-model issue (docs/cost-model.md, "Simulator speed and memory").
//
// Host memory is the growth of this process's resident set (VmRSS) from just before the system
// is built to the workload's peak (Workload::at_peak), after returning free heap memory to the
// OS first so that memory freed by earlier runs in the same process is not reused unseen.
// Guest memory touched is the machine frames that hold data at the peak (written, not zeroed
// since) times 4 KiB: guest pages, the guest's page tables, the builder's initial tables and
// Xen's own frames.
#pragma once

#include <cstdint>

#include "system/guest_system.hpp"

namespace pib::workload {

class Workload;

struct HostMemoryFigures {
  uint64_t rss_before = 0;          // bytes
  uint64_t rss_at_peak = 0;         // bytes, the largest sample at a peak
  uint64_t hwm_growth = 0;          // VmHWM (reset at start when the kernel allows) - rss_before
  uint64_t touched_frames = 0;      // machine frames holding data at the peak
  uint64_t guest_pages_in_use = 0;  // pages the guest's allocator had handed out at the peak
  uint64_t host_growth() const { return rss_at_peak > rss_before ? rss_at_peak - rss_before : 0; }
  uint64_t touched_bytes() const { return touched_frames * 4096; }
  double ratio() const {
    return touched_frames == 0
               ? 0.0
               : static_cast<double>(host_growth()) / static_cast<double>(touched_bytes());
  }
};

// Resident set and its high-water mark of this process, in bytes (0 where /proc is missing).
uint64_t current_rss_bytes();
uint64_t peak_rss_bytes();

class HostMemoryProbe {
 public:
  // Call before building the system.
  void start();
  // Samples at the workload's peaks (installs itself as the workload's peak probe); when the
  // workload has none, call sample() yourself.
  void attach(Workload& w);
  void sample(system::GuestSystem& sys);
  bool sampled() const { return sampled_; }
  // After the run: fills in the high-water mark.
  HostMemoryFigures finish();

 private:
  HostMemoryFigures f_;
  bool sampled_ = false;
};

}  // namespace pib::workload
