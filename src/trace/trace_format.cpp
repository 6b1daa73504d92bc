// SPDX-License-Identifier: MIT
// The trace file: JSON Lines. Line 1 is the header, then one record per line, then a closing
// record that makes truncation detectable. Numbers that are addresses or flags are written as
// "0x..." strings (readable next to /proc/PID/maps); the reader takes either form.
#include <array>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.hpp"
#include "common/hex.hpp"
#include "common/text_file.hpp"
#include "trace/trace.hpp"

namespace pib::trace {

namespace {

using Json = nlohmann::ordered_json;

constexpr std::array<const char*, 13> kKindNames = {
    "start", "fork",   "vfork",    "thread", "exec",   "exit",   "wait",
    "mmap",  "munmap", "mprotect", "brk",    "mremap", "madvise"};

// Where a field sits, for error messages: "trace.jsonl:12: mmap.addr".
struct Where {
  const std::string& origin;
  uint64_t line;
  std::string at(const std::string& field) const {
    return origin + ":" + std::to_string(line) + ": " + field;
  }
};

uint64_t unsigned_field(const Json& j, const char* key, const Where& w, const std::string& rec) {
  const auto it = j.find(key);
  if (it == j.end()) throw InputError(w.at(rec + "." + key) + " is missing");
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_string()) {
    const std::string s = it->get<std::string>();
    if (s.size() > 2 && s[0] == '0' && s[1] == 'x') {
      std::size_t used = 0;
      try {
        const uint64_t v = std::stoull(s.substr(2), &used, 16);
        if (used == s.size() - 2) return v;
      } catch (const std::exception&) {  // out of range or not hex: reported below
      }
    }
  }
  throw InputError(w.at(rec + "." + key) +
                   " must be a non-negative integer or a 0x... string, got " + it->dump());
}

uint64_t optional_unsigned(const Json& j, const char* key, const Where& w, const std::string& rec) {
  return j.contains(key) ? unsigned_field(j, key, w, rec) : 0;
}

int64_t signed_field(const Json& j, const char* key, const Where& w, const std::string& rec) {
  const auto it = j.find(key);
  if (it == j.end()) throw InputError(w.at(rec + "." + key) + " is missing");
  if (it->is_number_integer() && !it->is_number_unsigned()) return it->get<int64_t>();
  return static_cast<int64_t>(unsigned_field(j, key, w, rec));
}

std::string string_field(const Json& j, const char* key, const Where& w, const std::string& rec,
                         bool required) {
  const auto it = j.find(key);
  if (it == j.end()) {
    if (required) throw InputError(w.at(rec + "." + key) + " is missing");
    return {};
  }
  if (!it->is_string()) throw InputError(w.at(rec + "." + key) + " must be a string");
  return it->get<std::string>();
}

Json state_json(const State& s) {
  Json j;
  j["vmpte_kb"] = s.vmpte_kb;
  j["vmrss_kb"] = s.vmrss_kb;
  Json maps = Json::array();
  for (const snapshot::MapEntry& m : s.maps) {
    std::ostringstream o;
    o << std::hex << m.start << '-' << m.end << ' ' << m.perms << ' ' << m.offset << ' '
      << (m.dev.empty() ? "00:00" : m.dev) << ' ' << std::dec << m.inode;
    if (!m.name.empty()) o << ' ' << m.name;
    maps.push_back(o.str());
  }
  j["maps"] = std::move(maps);
  Json runs = Json::array();
  for (const snapshot::PageRun& r : s.runs) {
    std::string f;
    if (r.file_or_shared_anon) f += 'f';
    if (r.exclusive) f += 'x';
    runs.push_back(Json::array({hex(r.start), r.pages, f.empty() ? "-" : f}));
  }
  j["runs"] = std::move(runs);
  return j;
}

State parse_state(const Json& j, const Where& w, const std::string& rec) {
  if (!j.is_object()) throw InputError(w.at(rec) + " must be an object");
  State s;
  s.vmpte_kb = unsigned_field(j, "vmpte_kb", w, rec);
  s.vmrss_kb = optional_unsigned(j, "vmrss_kb", w, rec);
  const auto maps = j.find("maps");
  const auto runs = j.find("runs");
  if (maps == j.end() || !maps->is_array())
    throw InputError(w.at(rec + ".maps") + " must be an array");
  if (runs == j.end() || !runs->is_array())
    throw InputError(w.at(rec + ".runs") + " must be an array");
  if (maps->size() > snapshot::kMaxSnapshotEntries ||
      runs->size() > snapshot::kMaxSnapshotEntries) {
    throw InputError(w.at(rec) + " has more than " + std::to_string(snapshot::kMaxSnapshotEntries) +
                     " mappings or runs");
  }
  std::string text;
  for (const Json& m : *maps) {
    if (!m.is_string()) throw InputError(w.at(rec + ".maps") + " entries must be strings");
    text += m.get<std::string>();
    text += '\n';
  }
  s.maps = snapshot::parse_maps(text, w.at(rec + ".maps"));
  uint64_t pages = 0;
  for (const Json& r : *runs) {
    const std::string field = rec + ".runs[" + std::to_string(s.runs.size()) + "]";
    if (!r.is_array() || r.size() != 3 || !r[0].is_string() || !r[1].is_number_unsigned() ||
        !r[2].is_string()) {
      throw InputError(w.at(field) + " must be [\"0xSTART\", PAGES, \"FLAGS\"], got " + r.dump());
    }
    snapshot::PageRun p;
    Json holder = {{"start", r[0]}};
    p.start = unsigned_field(holder, "start", w, field);
    p.pages = r[1].get<uint64_t>();
    const std::string f = r[2].get<std::string>();
    if (p.pages == 0 || (p.start & 0xfff) != 0) {
      throw InputError(w.at(field) + " must start on a page and hold at least one page");
    }
    if (f != "-" && f != "f" && f != "x" && f != "fx") {
      throw InputError(w.at(field) + " flags must be -, f, x or fx, got '" + f + "'");
    }
    p.file_or_shared_anon = f.find('f') != std::string::npos;
    p.exclusive = f.find('x') != std::string::npos;
    pages += std::min(p.pages, snapshot::kMaxSnapshotPages + 1);
    if (pages > snapshot::kMaxSnapshotPages) {
      throw InputError(w.at(rec) + " holds more than " +
                       std::to_string(snapshot::kMaxSnapshotPages) + " present pages");
    }
    s.runs.push_back(p);
  }
  return s;
}

}  // namespace

const char* kind_name(Kind k) {
  return kKindNames.at(static_cast<std::size_t>(k));
}

std::optional<Kind> kind_by_name(const std::string& name) {
  for (std::size_t i = 0; i < kKindNames.size(); ++i) {
    if (name == kKindNames[i]) return static_cast<Kind>(i);
  }
  return std::nullopt;
}

snapshot::Snapshot State::to_snapshot(const std::string& origin) const {
  snapshot::Snapshot s;
  s.vmpte_kb = vmpte_kb;
  s.vmrss_kb = vmrss_kb;
  s.vmas = maps;
  s.page_runs = runs;
  s.origin = origin;
  return s;
}

State State::of(const snapshot::Snapshot& s) {
  State st;
  st.vmpte_kb = s.vmpte_kb;
  st.vmrss_kb = s.vmrss_kb;
  st.maps = s.vmas;
  for (const snapshot::PageRun& r : s.page_runs) {
    if (r.present) st.runs.push_back(r);
  }
  return st;
}

std::string header_line(const Header& h) {
  Json j;
  j["format"] = kFormatName;
  j["version"] = h.version;
  j["command"] = h.command;
  j["kernel"] = h.kernel;
  j["thp"] = h.thp;
  j["randomize_va_space"] = h.randomize_va_space;
  j["page_size"] = h.page_size;
  j["root_pid"] = h.root_pid;
  return j.dump() + "\n";
}

std::string end_line(const Header& h, uint64_t records) {
  Json j;
  j["ev"] = "end";
  j["records"] = records;
  j["seconds"] = h.seconds;
  j["exit_status"] = h.exit_status;
  return j.dump() + "\n";
}

std::string record_line(const Record& r) {
  Json j;
  j["ev"] = kind_name(r.kind);
  j["pid"] = r.pid;
  if (r.tid != r.pid) j["tid"] = r.tid;
  switch (r.kind) {
    case Kind::kFork:
    case Kind::kVfork:
    case Kind::kThread:
      j["child"] = r.child;
      j["flags"] = hex(r.flags);
      break;
    case Kind::kWait:
      j["child"] = r.child;
      break;
    case Kind::kExec:
      j["path"] = r.path;
      break;
    case Kind::kMmap:
      j["addr"] = hex(r.addr);
      j["len"] = r.length;
      j["prot"] = hex(r.arg);
      j["flags"] = hex(r.flags);
      if (!r.file.empty()) j["file"] = r.file;
      j["off"] = r.offset;
      break;
    case Kind::kMunmap:
      j["addr"] = hex(r.addr);
      j["len"] = r.length;
      break;
    case Kind::kMprotect:
      j["addr"] = hex(r.addr);
      j["len"] = r.length;
      j["prot"] = hex(r.arg);
      break;
    case Kind::kMadvise:
      j["addr"] = hex(r.addr);
      j["len"] = r.length;
      j["advice"] = r.arg;
      break;
    case Kind::kBrk:
      j["addr"] = hex(r.addr);
      break;
    case Kind::kMremap:
      j["addr"] = hex(r.addr);
      j["len"] = r.length;
      j["new_len"] = r.arg;
      j["flags"] = hex(r.flags);
      j["new_addr"] = hex(r.addr2);
      break;
    case Kind::kStart:
    case Kind::kExit:
      break;
  }
  const bool memory_call = r.kind >= Kind::kMmap;
  if (memory_call) {
    if (r.result >= 0) {
      j["ret"] = hex(static_cast<uint64_t>(r.result));
    } else {
      j["ret"] = r.result;
    }
  }
  if (r.state) j["state"] = state_json(*r.state);
  if (r.child_state) j["child_state"] = state_json(*r.child_state);
  if (r.before) j["before"] = state_json(*r.before);
  return j.dump() + "\n";
}

Trace parse(const std::string& text, const std::string& origin) {
  Trace t;
  t.origin = origin;
  std::istringstream in(text);
  std::string line;
  uint64_t n = 0;
  bool ended = false;
  while (std::getline(in, line)) {
    ++n;
    const Where w{origin, n};
    if (line.empty()) continue;
    if (ended) throw InputError(w.at("a record after the closing \"end\" record"));
    if (line.size() > kMaxLineBytes) {
      throw InputError(w.at("line") + " is longer than " + std::to_string(kMaxLineBytes) +
                       " bytes");
    }
    Json j;
    try {
      j = Json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw InputError(w.at("not valid JSON") + " (" + e.what() + ")" +
                       (in.eof() ? "; the file looks truncated" : ""));
    }
    if (!j.is_object()) throw InputError(w.at("each line must be a JSON object"));
    if (n == 1) {
      if (j.value("format", "") != kFormatName) {
        throw InputError(w.at("header") + ": not a pibooster trace (format must be \"" +
                         kFormatName + "\")");
      }
      const Json version = j.value("version", Json());
      if (!version.is_number_integer() || version.get<int>() != kFormatVersion) {
        throw InputError(w.at("header.version") + " is " + version.dump() +
                         "; this pibooster reads version " + std::to_string(kFormatVersion));
      }
      try {
        t.header.command = j.value("command", std::vector<std::string>{});
      } catch (const nlohmann::json::exception&) {
        throw InputError(w.at("header.command") + " must be an array of strings");
      }
      t.header.kernel = string_field(j, "kernel", w, "header", false);
      t.header.thp = string_field(j, "thp", w, "header", false);
      t.header.randomize_va_space =
          static_cast<int>(optional_unsigned(j, "randomize_va_space", w, "header"));
      t.header.page_size = unsigned_field(j, "page_size", w, "header");
      if (t.header.page_size != 4096) {
        throw InputError(w.at("header.page_size") + " is " + std::to_string(t.header.page_size) +
                         "; only 4096-byte pages are modelled");
      }
      t.header.root_pid = signed_field(j, "root_pid", w, "header");
      continue;
    }
    const std::string ev = string_field(j, "ev", w, "record", true);
    if (ev == "end") {
      const uint64_t count = unsigned_field(j, "records", w, "end");
      if (count != t.records.size()) {
        throw InputError(w.at("end.records") + " says " + std::to_string(count) +
                         " records, the file has " + std::to_string(t.records.size()));
      }
      t.header.seconds = j.value("seconds", 0.0);
      t.header.exit_status = j.value("exit_status", 0);
      ended = true;
      continue;
    }
    const std::optional<Kind> kind = kind_by_name(ev);
    if (!kind) throw InputError(w.at("ev") + ": unknown record kind '" + ev + "'");
    if (t.records.size() >= kMaxRecords) {
      throw InputError(w.at("record") + ": more than " + std::to_string(kMaxRecords) + " records");
    }
    Record r;
    r.kind = *kind;
    r.line = n;
    r.pid = signed_field(j, "pid", w, ev);
    r.tid = j.contains("tid") ? signed_field(j, "tid", w, ev) : r.pid;
    switch (r.kind) {
      case Kind::kFork:
      case Kind::kVfork:
      case Kind::kThread:
        r.child = signed_field(j, "child", w, ev);
        r.flags = unsigned_field(j, "flags", w, ev);
        break;
      case Kind::kWait:
        r.child = signed_field(j, "child", w, ev);
        break;
      case Kind::kExec:
        r.path = string_field(j, "path", w, ev, true);
        break;
      case Kind::kMmap:
        r.addr = unsigned_field(j, "addr", w, ev);
        r.length = unsigned_field(j, "len", w, ev);
        r.arg = unsigned_field(j, "prot", w, ev);
        r.flags = unsigned_field(j, "flags", w, ev);
        r.file = string_field(j, "file", w, ev, false);
        r.offset = unsigned_field(j, "off", w, ev);
        break;
      case Kind::kMunmap:
        r.addr = unsigned_field(j, "addr", w, ev);
        r.length = unsigned_field(j, "len", w, ev);
        break;
      case Kind::kMprotect:
        r.addr = unsigned_field(j, "addr", w, ev);
        r.length = unsigned_field(j, "len", w, ev);
        r.arg = unsigned_field(j, "prot", w, ev);
        break;
      case Kind::kMadvise:
        r.addr = unsigned_field(j, "addr", w, ev);
        r.length = unsigned_field(j, "len", w, ev);
        r.arg = unsigned_field(j, "advice", w, ev);
        break;
      case Kind::kBrk:
        r.addr = unsigned_field(j, "addr", w, ev);
        break;
      case Kind::kMremap:
        r.addr = unsigned_field(j, "addr", w, ev);
        r.length = unsigned_field(j, "len", w, ev);
        r.arg = unsigned_field(j, "new_len", w, ev);
        r.flags = unsigned_field(j, "flags", w, ev);
        r.addr2 = optional_unsigned(j, "new_addr", w, ev);
        break;
      case Kind::kStart:
      case Kind::kExit:
        break;
    }
    if (r.kind >= Kind::kMmap) r.result = signed_field(j, "ret", w, ev);
    if (j.contains("state")) r.state = parse_state(j.at("state"), w, ev + ".state");
    if (j.contains("child_state")) {
      r.child_state = parse_state(j.at("child_state"), w, ev + ".child_state");
    }
    if (j.contains("before")) r.before = parse_state(j.at("before"), w, ev + ".before");
    if ((r.kind == Kind::kStart || r.kind == Kind::kExec) && !r.state) {
      throw InputError(w.at(ev + ".state") + " is missing (a " + ev +
                       " record carries the address space it starts from)");
    }
    t.records.push_back(std::move(r));
  }
  if (n == 0) throw InputError(origin + ": empty file (not a pibooster trace)");
  if (!ended) {
    throw InputError(origin + ":" + std::to_string(n) +
                     ": the trace is truncated (no closing \"end\" record; was the capture "
                     "interrupted?)");
  }
  return t;
}

Trace load(const std::string& path) {
  return parse(read_text_file(path, "trace"), path);
}

Trace from_snapshot(const snapshot::Snapshot& snap, const std::string& operation) {
  if (operation != "fork_exit" && operation != "exit") {
    throw InputError("snapshot operation '" + operation + "' (valid: fork_exit, exit)");
  }
  Trace t;
  t.origin = snap.origin;
  t.header.kernel = snap.kernel;
  t.header.root_pid = 1;
  t.header.command = {"snapshot:" + snap.origin, operation};
  Record start;
  start.kind = Kind::kStart;
  start.pid = start.tid = 1;
  start.state = State::of(snap);
  t.records.push_back(start);
  if (operation == "fork_exit") {
    Record fork;
    fork.kind = Kind::kFork;
    fork.pid = fork.tid = 1;
    fork.child = 2;
    fork.flags = 0x11;  // SIGCHLD, as fork(2) passes it
    t.records.push_back(fork);
    Record exit;
    exit.kind = Kind::kExit;
    exit.pid = exit.tid = 2;
    t.records.push_back(exit);
    Record wait;
    wait.kind = Kind::kWait;
    wait.pid = wait.tid = 1;
    wait.child = 2;
    t.records.push_back(wait);
  }
  Record exit;
  exit.kind = Kind::kExit;
  exit.pid = exit.tid = 1;
  t.records.push_back(exit);
  return t;
}

}  // namespace pib::trace
