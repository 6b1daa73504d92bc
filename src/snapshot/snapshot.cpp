// SPDX-License-Identifier: MIT
#include "snapshot/snapshot.hpp"

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "common/error.hpp"
#include "common/text_file.hpp"

namespace pib::snapshot {

namespace {

constexpr uint64_t kPage = 4096;

std::string hex(uint64_t v) {
  std::ostringstream o;
  o << "0x" << std::hex << v;
  return o.str();
}

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

std::string read_file(const std::string& path, int pid) {
  std::ifstream in(path);
  if (!in) {
    const int e = errno;
    if (e == ENOENT || e == ESRCH) {
      throw InputError("process " + std::to_string(pid) + " does not exist (or exited): " + path);
    }
    throw InputError("cannot read " + path + ": " + std::strerror(e));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
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
  utsname u{};
  if (uname(&u) == 0) s.kernel = u.release;
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
  // pagemap holds one 8-byte entry per page: read a mapping's entries a chunk at a time.
  constexpr uint64_t kChunk = 512;
  std::vector<uint64_t> entries(kChunk);
  for (const MapEntry& v : s.vmas) {
    if (v.start >= 0x800000000000ULL) continue;  // [vsyscall]: not in the user tables
    PageRun run{};
    bool open_run = false;
    for (uint64_t chunk = v.start; chunk < v.end; chunk += kChunk * kPage) {
      const uint64_t n = std::min(kChunk, (v.end - chunk) / kPage);
      const auto want = static_cast<ssize_t>(n * sizeof(uint64_t));
      const ssize_t got = pread(fd, entries.data(), static_cast<size_t>(want),
                                static_cast<off_t>((chunk / kPage) * 8));
      if (got != want) {
        close(fd);
        throw InputError(base + "/pagemap: short read at " + hex(chunk) +
                         " (the process may have exited)");
      }
      for (uint64_t i = 0; i < n; ++i) {
        const uint64_t va = chunk + i * kPage;
        const uint64_t entry = entries[i];
        const bool present = (entry >> 63) & 1;
        const bool file = (entry >> 61) & 1;
        const bool excl = (entry >> 56) & 1;
        const bool extends = open_run && present && run.file_or_shared_anon == file &&
                             run.exclusive == excl && run.start + run.pages * kPage == va;
        if (extends) {
          ++run.pages;
          continue;
        }
        if (open_run) s.page_runs.push_back(run);
        open_run = present;
        if (present) run = PageRun{va, 1, true, file, excl};
      }
    }
    if (open_run) s.page_runs.push_back(run);
  }
  close(fd);
  return s;
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
