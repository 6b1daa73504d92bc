// SPDX-License-Identifier: MIT
// The hv-script line loop: comments, expectations, the dispatch of each command, and the
// printed results and counters.
#include "app/hv_script.hpp"

#include <cstdio>
#include <iomanip>
#include <istream>
#include <sstream>

#include "app/hv_script_session.hpp"
#include "common/text_file.hpp"
#include "xen/audit.hpp"

namespace pib::app {

namespace hvs {

std::vector<std::string> split_ws(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::string hex(uint64_t v) {
  std::ostringstream s;
  s << "0x" << std::hex << v;
  return s.str();
}

namespace {
// "-EPERM  done=0" reads as "-EPERM done=0".
std::string collapse_spaces(const std::string& s) {
  std::string out;
  for (const auto& w : split_ws(s)) out += (out.empty() ? "" : " ") + w;
  return out;
}
}  // namespace

Script::~Script() {
  if (xen_) xen_->set_interleaving_observer(nullptr);
}

HvScriptResult Script::run(std::istream& in) {
  std::string raw;
  while (std::getline(in, raw)) {
    ++line_no_;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();  // CRLF line ends
    for (const char c : raw) {
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
        char code[8];
        std::snprintf(code, sizeof code, "0x%02x", static_cast<unsigned>(c));
        fail(std::string("control character ") + code + " (not a text script?)");
      }
    }
    std::string line = raw.substr(0, raw.find('#'));
    line = trim(line);
    if (line.empty()) continue;
    std::optional<Expectation> expect;
    if (const auto arrow = line.find("->"); arrow != std::string::npos) {
      expect = Expectation{collapse_spaces(trim(line.substr(arrow + 2)))};
      line = trim(line.substr(0, arrow));
    }
    try {
      execute(line, expect);
    } catch (const xen::DomainCrashed& e) {
      // As after `destroy`: only lines that do not run the domain (audit, count, info, dma).
      fail(std::string(e.what()) + "; this line would run it");
    }
  }
  if (in_multicall_) fail("multicall block not closed with 'end'");
  ensure_booted();
  check_armed_fired();
  print_counters();
  return result_;
}

void Script::report(const std::string& line, const Outcome& got,
                    const std::optional<Expectation>& e, int line_no) {
  ++result_.lines_run;
  bool ok = true;
  // "-> RC" checks the result; "-> RC done=N" the requests completed as well.
  const std::string shown =
      got.text + (got.done ? " done=" + std::to_string(*got.done) : std::string());
  if (e) {
    std::string want = e->text;
    const bool with_done = want.find(" done=") != std::string::npos;
    if (want == "ok" || want.rfind("ok ", 0) == 0) want = "0" + want.substr(2);
    // "ok" and "0" are the same answer, whichever side writes it.
    const std::string have = (got.text == "ok" ? "0" : got.text) +
                             (with_done && got.done ? " done=" + std::to_string(*got.done) : "");
    ok = want == have;
    if (!ok) ++result_.failed_expectations;
  }
  out_ << std::setw(4) << (line_no != 0 ? line_no : line_no_) << "  " << std::left << std::setw(52)
       << line << std::right << " => " << shown;
  if (e) out_ << (ok ? "   (as expected)" : "   ** EXPECTED " + e->text + " **");
  out_ << "\n";
}

Outcome Script::rc(int64_t r) {
  return Outcome{std::string(abi::error_name(r))};
}

void Script::execute(const std::string& line, const std::optional<Expectation>& expect) {
  const auto words = split_ws(line);
  const std::string& cmd = words[0];
  if (cmd == "domain") {
    if (xen_) fail("'domain' must come before every other command");
    boot(key_values(words, 1));
    return;
  }
  ensure_booted();
  if (cmd == "vcpu") {
    // "vcpu N" selects the vCPU of the lines that follow; "vcpu N COMMAND..." of one line.
    if (words.size() < 2) fail("'vcpu' needs a vCPU number");
    const uint64_t n = number(words[1]);
    const uint32_t vcpus = running().vcpus;
    if (n >= vcpus) {
      fail("no vcpu " + words[1] + " (the domain has " + std::to_string(vcpus) + ")");
    }
    if (words.size() == 2) {
      vcpu_ = static_cast<VcpuId>(n);
      return;
    }
    const VcpuId saved = vcpu_;
    vcpu_ = static_cast<VcpuId>(n);
    const auto rest = line.find(words[2], line.find(words[1]) + words[1].size());
    execute(line.substr(rest), expect);
    vcpu_ = saved;
    return;
  }
  if (cmd == "other") {
    as_other(line, expect);
    return;
  }
  if (cmd == "at") {
    arm(line, words, expect);
    return;
  }
  if (cmd == "decrease_reservation" || cmd == "populate_physmap" || cmd == "increase_reservation" ||
      cmd == "current_reservation" || cmd == "maximum_reservation") {
    if (in_multicall_) fail("memory_op lines cannot be part of a multicall in scripts");
    memory_op(line, words, expect);
    return;
  }
  if (cmd == "dma") {
    if (in_multicall_) fail("a device access is not a hypercall");
    dma(line, words, expect);
    return;
  }
  if (cmd == "timer" || cmd == "time") {
    if (in_multicall_) fail("'" + cmd + "' is not part of a multicall in scripts");
    timer(line, words, expect);
    return;
  }
  if (cmd == "count") {
    if (words.size() != 2) fail("usage: count COUNTER (a name from 'pibooster stats --list')");
    const auto ev = sim::event_by_name(words[1]);
    if (!ev) fail("unknown counter '" + words[1] + "' (see 'pibooster stats --list')");
    report(line, Outcome{std::to_string(ledger_.count(*ev))}, expect);
    return;
  }
  if (cmd == "adversary") {
    adversary_line(line, expect);
    return;
  }
  if (cmd == "frame") {
    declare_frames(words, 1, as_other_);
    return;
  }
  if (cmd == "multicall") {
    if (in_multicall_) fail("multicalls do not nest");
    in_multicall_ = true;
    mc_.clear();
    mc_expect_.clear();
    mc_lines_.clear();
    mc_line_nos_.clear();
    return;
  }
  if (cmd == "end") {
    end_multicall(expect);
    return;
  }
  if (cmd == "destroy") {
    destroy_line(line, words, expect);
    return;
  }
  if (cmd == "info") {
    info_line(line, words, expect);
    return;
  }
  if (cmd == "audit") {
    audit_line(line, expect);
    return;
  }
  if (cmd == "counters") {
    print_counters();
    return;
  }
  if (destroyed_) fail("the domain was destroyed: only audit, adversary, count and info follow");
  if (cmd == "read" || cmd == "write" || cmd == "xchg") {
    memory_access(line, words, expect);
    return;
  }
  std::string call = line;
  const auto foreign = take_option(call, "foreigndom");
  const DomId foreigndom = foreign ? domid(*foreign) : abi::kDomidSelf;
  const auto pt_owner = take_option(call, "pt_owner");
  if (cmd == "batch") {
    if (pt_owner) fail("pt_owner= names the page-table owner of an mmu_update");
    batch(call, foreigndom, expect);
    return;
  }
  abi::MulticallEntry entry = hypercall(call, split_ws(call));
  entry.foreigndom = foreigndom;
  if (pt_owner) {
    if (entry.op != abi::HypercallNr::kMmuUpdate) {
      fail("pt_owner= names the page-table owner of an mmu_update");
    }
    // foreigndom's high half: 1 + the domain whose page tables the requests update (PFD).
    entry.foreigndom = abi::foreigndom_of(domid(*pt_owner), foreigndom);
  }
  if (in_multicall_) {
    mc_.push_back(std::move(entry));
    mc_expect_.push_back(expect);
    mc_lines_.push_back(line);
    mc_line_nos_.push_back(line_no_);
    return;
  }
  std::optional<uint32_t> done;
  Outcome got = rc(issue(entry, &done));
  got.done = done;
  report(line, got, expect);
}

void Script::print_counters() {
  out_ << "# counters (non-zero)\n";
  for (const auto& info : sim::kEventTable) {
    const uint64_t n = ledger_.count(info.event);
    if (n != 0) out_ << "  " << std::left << std::setw(32) << info.name << std::right << n << "\n";
  }
}

}  // namespace hvs

HvScriptResult run_hv_script(std::istream& in, const std::string& name, std::ostream& out) {
  hvs::Script script(name, out);
  return script.run(in);
}

std::string read_hv_script_file(const std::string& path) {
  return read_text_file(path, "script", kMaxScriptBytes);
}

}  // namespace pib::app
