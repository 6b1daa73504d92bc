// SPDX-License-Identifier: MIT
// Address-space snapshots of real processes: the VMAs of /proc/PID/maps, the present pages of
// /proc/PID/pagemap as runs (anonymous or file/shared, exclusive or not), and the kernel's VmPTE.
// The JSON format is the one of data/groundtruth/*/snapshot-*.json.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pib::snapshot {

struct MapEntry {
  uint64_t start = 0;
  uint64_t end = 0;
  std::string perms;  // "rw-p"
  uint64_t offset = 0;
  std::string dev;
  uint64_t inode = 0;
  std::string name;
};

struct PageRun {
  uint64_t start = 0;
  uint64_t pages = 0;
  bool present = true;
  bool file_or_shared_anon = false;
  bool exclusive = false;
};

struct Snapshot {
  std::string kernel;
  uint64_t vmpte_kb = 0;
  uint64_t vmrss_kb = 0;
  std::vector<MapEntry> vmas;
  std::vector<PageRun> page_runs;
  std::string origin;

  uint64_t vmpte_pages() const { return vmpte_kb / 4; }
};

// Reads a live process. InputError for a process that does not exist (or vanished while being
// read), missing permission, or a malformed /proc file (naming file and line).
Snapshot capture(int pid);
// Whether any page of [start, end) is present in the live process's page tables (one pagemap
// read of the range, no maps or status). InputError as capture().
bool any_present(int pid, uint64_t start, uint64_t end);
// Parses the maps text (for tests and for capture).
std::vector<MapEntry> parse_maps(const std::string& text, const std::string& origin);

// Upper bounds a snapshot file is checked against before anything is built from it: the
// present pages of all runs together (256 MiB; the ground truth's largest has 16,520) and the
// number of VMAs and runs.
inline constexpr uint64_t kMaxSnapshotPages = 65536;
inline constexpr uint64_t kMaxSnapshotEntries = 65536;

Snapshot load(const std::string& path);
Snapshot parse(const std::string& json_text, const std::string& origin);
std::string to_json(const Snapshot& s);

}  // namespace pib::snapshot
