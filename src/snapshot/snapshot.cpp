// SPDX-License-Identifier: MIT
#include "snapshot/snapshot.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "common/hex.hpp"
#include "common/text_file.hpp"

namespace pib::snapshot {

namespace {

constexpr uint64_t kPage = 4096;

uint64_t parse_hex(const std::string& s, const std::string& where) {
  if (s.empty()) throw InputError(where + ": empty number");
  std::size_t used = 0;
  uint64_t v = 0;
  try {
    v = std::stoull(s, &used, 16);
  } catch (const std::exception&) {
    throw InputError(where + ": '" + s + "' is not a hexadecimal number");
  }
  if (used != s.size()) throw InputError(where + ": '" + s + "' is not a hexadecimal number");
  return v;
}

// One read loop on the descriptor: /proc files are generated per read and a tracer reads them
// hundreds of times a second, so no stream machinery.
std::string read_file(const std::string& path, int pid) {
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT || e == ESRCH) {
      throw InputError("process " + std::to_string(pid) + " does not exist (or exited): " + path);
    }
    throw InputError("cannot read " + path + ": " + std::strerror(e));
  }
  std::string text;
  char buf[16384];
  for (;;) {
    const ssize_t got = read(fd, buf, sizeof buf);
    if (got < 0) {
      const int e = errno;
      close(fd);
      if (e == ESRCH) throw InputError("process " + std::to_string(pid) + " exited: " + path);
      throw InputError("cannot read " + path + ": " + std::strerror(e));
    }
    if (got == 0) break;
    text.append(buf, static_cast<std::size_t>(got));
  }
  close(fd);
  return text;
}

const std::string& kernel_release() {
  static const std::string release = [] {
    utsname u{};
    return uname(&u) == 0 ? std::string(u.release) : std::string();
  }();
  return release;
}

// Mappings larger than this are scanned for present pages before their entries are read.
constexpr uint64_t kScanAbove = 1ULL << 30;

// Appends the present pages of [start, end) as runs, reading pagemap (one 8-byte entry per
// page) a chunk at a time; a run never continues across calls.
void read_pagemap(int fd, uint64_t start, uint64_t end, const std::string& base,
                  std::vector<PageRun>& runs) {
  constexpr uint64_t kChunk = 512;
  uint64_t entries[kChunk];
  PageRun run{};
  bool open_run = false;
  for (uint64_t chunk = start; chunk < end; chunk += kChunk * kPage) {
    const uint64_t n = std::min(kChunk, (end - chunk) / kPage);
    const auto want = static_cast<ssize_t>(n * sizeof(uint64_t));
    const ssize_t got = pread(fd, entries, static_cast<size_t>(want),
                              static_cast<off_t>((chunk / kPage) * sizeof(uint64_t)));
    if (got != want) {
      throw InputError(base + "/pagemap: short read at " + hex(chunk) +
                       " (the process may have exited)");
    }
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t va = chunk + i * kPage;
      const bool present = (entries[i] >> 63) & 1;
      const bool file = (entries[i] >> 61) & 1;
      const bool excl = (entries[i] >> 56) & 1;
      if (open_run && present && run.file_or_shared_anon == file && run.exclusive == excl &&
          run.start + run.pages * kPage == va) {
        ++run.pages;
        continue;
      }
      if (open_run) runs.push_back(run);
      open_run = present;
      if (present) run = PageRun{va, 1, true, file, excl};
    }
  }
  if (open_run) runs.push_back(run);
}

// The PAGEMAP_SCAN ioctl of /proc/PID/pagemap (Linux 6.7+, include/uapi/linux/fs.h); declared
// here because the build's kernel headers may predate it.
struct PmScanArg {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted,
      category_mask, category_anyof_mask, return_mask;
};
struct PageRegion {
  uint64_t start, end, categories;
};
constexpr uint64_t kPageIsPresent = 1ULL << 3;
constexpr unsigned long kPagemapScan = _IOWR('f', 16, PmScanArg);

bool scan_supported(int fd) {
  PmScanArg arg{};
  arg.size = sizeof arg;
  return ioctl(fd, kPagemapScan, &arg) == 0 || errno != ENOTTY;
}

// The present stretches of [start, end); empty when there are none or the ioctl is missing.
std::vector<std::pair<uint64_t, uint64_t>> present_ranges(int fd, uint64_t start, uint64_t end) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  std::vector<PageRegion> vec(256);
  for (uint64_t at = start; at < end;) {
    PmScanArg arg{};
    arg.size = sizeof arg;
    arg.start = at;
    arg.end = end;
    arg.vec = reinterpret_cast<uint64_t>(vec.data());
    arg.vec_len = vec.size();
    arg.category_mask = kPageIsPresent;
    arg.return_mask = kPageIsPresent;
    const int n = ioctl(fd, kPagemapScan, &arg);
    if (n < 0) return {};
    for (int i = 0; i < n; ++i)
      out.emplace_back(vec[static_cast<std::size_t>(i)].start,
                       vec[static_cast<std::size_t>(i)].end);
    if (arg.walk_end <= at) break;
    at = arg.walk_end;
  }
  return out;
}

}  // namespace

std::vector<MapEntry> parse_maps(const std::string& text, const std::string& origin) {
  std::vector<MapEntry> out;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    const std::string where = origin + ":" + std::to_string(n);
    std::istringstream l(line);
    std::string range, perms, offset, dev, inode;
    if (!(l >> range >> perms >> offset >> dev >> inode)) {
      throw InputError(where + ": expected 'start-end perms offset dev inode [name]'");
    }
    const auto dash = range.find('-');
    if (dash == std::string::npos) throw InputError(where + ": address range without '-'");
    MapEntry e;
    e.start = parse_hex(range.substr(0, dash), where);
    e.end = parse_hex(range.substr(dash + 1), where);
    if (e.end <= e.start || (e.start % kPage) != 0 || (e.end % kPage) != 0) {
      throw InputError(where + ": bad address range " + range);
    }
    if (perms.size() != 4) throw InputError(where + ": bad permissions '" + perms + "'");
    e.perms = perms;
    e.offset = parse_hex(offset, where);
    e.dev = dev;
    try {
      e.inode = std::stoull(inode);
    } catch (const std::exception&) {
      throw InputError(where + ": bad inode '" + inode + "'");
    }
    std::string name;
    std::getline(l, name);
    const auto first = name.find_first_not_of(' ');
    e.name = first == std::string::npos ? "" : name.substr(first);
    out.push_back(e);
  }
  return out;
}

Snapshot capture(int pid) {
  const std::string base = "/proc/" + std::to_string(pid);
  Snapshot s;
  s.origin = base;
  s.kernel = kernel_release();
  s.vmas = parse_maps(read_file(base + "/maps", pid), base + "/maps");
  const std::string status = read_file(base + "/status", pid);
  std::istringstream st(status);
  std::string line;
  bool have_pte = false;
  while (std::getline(st, line)) {
    if (line.rfind("VmPTE:", 0) == 0) {
      s.vmpte_kb = std::stoull(line.substr(6));
      have_pte = true;
    } else if (line.rfind("VmRSS:", 0) == 0) {
      s.vmrss_kb = std::stoull(line.substr(6));
    }
  }
  if (!have_pte) {
    throw InputError(base + "/status has no VmPTE line (a kernel thread, or the process exited)");
  }
  const int fd = open((base + "/pagemap").c_str(), O_RDONLY);
  if (fd < 0) {
    const int e = errno;
    throw InputError(
        "cannot open " + base + "/pagemap: " + std::strerror(e) +
        (e == EACCES || e == EPERM ? " (need the same user as the process, or root)" : ""));
  }
  try {
    for (const MapEntry& v : s.vmas) {
      if (v.start >= 0x800000000000ULL) continue;  // [vsyscall]: not in the user tables
      if (v.end - v.start <= kScanAbove) {
        read_pagemap(fd, v.start, v.end, base, s.page_runs);
        continue;
      }
      // A huge mapping (a sanitizer's shadow, a runtime's reservation) is mostly empty: find its
      // present stretches first and read only those.
      const std::vector<std::pair<uint64_t, uint64_t>> present = present_ranges(fd, v.start, v.end);
      if (present.empty() && !scan_supported(fd)) {
        throw InputError(base + "/maps: the mapping at " + hex(v.start) + " spans " +
                         std::to_string((v.end - v.start) >> 30) +
                         " GiB; reading it needs the PAGEMAP_SCAN ioctl (Linux 6.7 or later)");
      }
      for (const auto& [from, to] : present) read_pagemap(fd, from, to, base, s.page_runs);
    }
  } catch (...) {
    close(fd);
    throw;
  }
  close(fd);
  return s;
}

bool any_present(int pid, uint64_t start, uint64_t end) {
  const std::string path = "/proc/" + std::to_string(pid) + "/pagemap";
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    const int e = errno;
    throw InputError("cannot open " + path + ": " + std::strerror(e));
  }
  constexpr uint64_t kChunk = 512;
  uint64_t entries[kChunk];
  start &= ~(kPage - 1);
  bool found = false;
  for (uint64_t chunk = start; chunk < end && !found; chunk += kChunk * kPage) {
    const uint64_t n = std::min(kChunk, (end - chunk + kPage - 1) / kPage);
    const ssize_t got = pread(fd, entries, static_cast<size_t>(n * sizeof(uint64_t)),
                              static_cast<off_t>((chunk / kPage) * sizeof(uint64_t)));
    if (got < 0) {
      const int e = errno;
      close(fd);
      throw InputError("cannot read " + path + ": " + std::strerror(e));
    }
    // A short read ends at the top of the user address space: nothing above it is present.
    for (ssize_t i = 0; i < got / static_cast<ssize_t>(sizeof(uint64_t)); ++i) {
      if ((entries[i] >> 63) != 0) {
        found = true;
        break;
      }
    }
    if (got != static_cast<ssize_t>(n * sizeof(uint64_t))) break;
  }
  close(fd);
  return found;
}

Snapshot parse(const std::string& text, const std::string& origin) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(origin + ": not valid JSON (" + e.what() + ")");
  }
  Snapshot s;
  s.origin = origin;
  if (!j.is_object()) throw InputError(origin + ": a snapshot must be a JSON object");
  try {
    s.kernel = j.value("kernel", "");
    if (!j.at("VmPTE_kB").is_number_unsigned()) {
      throw InputError(origin + ": VmPTE_kB must be a non-negative integer, got " +
                       j.at("VmPTE_kB").dump());
    }
    s.vmpte_kb = j.at("VmPTE_kB").get<uint64_t>();
    s.vmrss_kb = j.value("VmRSS_kB", 0);
    for (const char* list : {"vmas", "page_runs"}) {
      const auto& l = j.at(list);
      if (!l.is_array()) {
        throw InputError(origin + ": " + list + " must be an array, not " + l.type_name());
      }
      if (l.size() > kMaxSnapshotEntries) {
        throw InputError(origin + ": " + list + " has " + std::to_string(l.size()) +
                         " entries (the limit is " + std::to_string(kMaxSnapshotEntries) + ")");
      }
    }
    uint64_t total_pages = 0;
    for (const auto& v : j.at("vmas")) {
      MapEntry e;
      e.start = parse_hex(v.at("start").get<std::string>().substr(2), origin);
      e.end = parse_hex(v.at("end").get<std::string>().substr(2), origin);
      e.perms = v.at("perms").get<std::string>();
      e.offset = parse_hex(v.value("offset", std::string("0x0")).substr(2), origin);
      e.dev = v.value("dev", "");
      e.inode = v.value("inode", 0);
      e.name = v.value("name", "");
      if (e.end <= e.start || e.perms.size() != 4) {
        throw InputError(origin + ": bad VMA " + v.dump());
      }
      s.vmas.push_back(e);
    }
    for (const auto& r : j.at("page_runs")) {
      PageRun p;
      p.start = parse_hex(r.at("start").get<std::string>().substr(2), origin);
      const auto& pages = r.at("pages");
      if (!pages.is_number_unsigned() || pages.get<uint64_t>() == 0) {
        throw InputError(origin + ": page_runs[" + std::to_string(s.page_runs.size()) +
                         "].pages must be a positive integer, got " + pages.dump());
      }
      p.pages = pages.get<uint64_t>();
      total_pages += std::min(p.pages, kMaxSnapshotPages + 1);
      if (total_pages > kMaxSnapshotPages) {
        throw InputError(origin + ": page_runs hold more than " +
                         std::to_string(kMaxSnapshotPages) +
                         " present pages (the limit: 256 MiB of resident memory)");
      }
      p.present = r.value("present", true);
      p.file_or_shared_anon = r.at("file_or_shared_anon").get<bool>();
      p.exclusive = r.value("exclusive", false);
      s.page_runs.push_back(p);
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(origin + ": malformed snapshot (" + e.what() + ")");
  }
  return s;
}

Snapshot load(const std::string& path) {
  return parse(read_text_file(path, "snapshot"), path);
}

std::string to_json(const Snapshot& s) {
  nlohmann::ordered_json j;
  j["kernel"] = s.kernel;
  j["VmPTE_kB"] = s.vmpte_kb;
  j["VmRSS_kB"] = s.vmrss_kb;
  j["vmas"] = nlohmann::ordered_json::array();
  for (const auto& v : s.vmas) {
    j["vmas"].push_back({{"start", hex(v.start)},
                         {"end", hex(v.end)},
                         {"perms", v.perms},
                         {"offset", hex(v.offset)},
                         {"dev", v.dev},
                         {"inode", v.inode},
                         {"name", v.name}});
  }
  j["page_runs"] = nlohmann::ordered_json::array();
  for (const auto& r : s.page_runs) {
    j["page_runs"].push_back({{"start", hex(r.start)},
                              {"pages", r.pages},
                              {"present", r.present},
                              {"file_or_shared_anon", r.file_or_shared_anon},
                              {"exclusive", r.exclusive}});
  }
  return j.dump(1) + "\n";
}

}  // namespace pib::snapshot
