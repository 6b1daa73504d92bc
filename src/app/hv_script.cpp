// SPDX-License-Identifier: MIT
#include "app/hv_script.hpp"

#include <cctype>
#include <cstdio>
#include <iomanip>
#include <istream>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <vector>

#include "common/error.hpp"
#include "common/text_file.hpp"
#include "xen/audit.hpp"
#include "xen/domain_builder.hpp"

namespace pib::app {

namespace {

using namespace hw::pte_bits;

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

// What a line promises: "-> ok", "-> -EINVAL", "-> fault", "-> 0x1234".
struct Expectation {
  std::string text;
};

struct Outcome {
  std::string text;  // "0", "-EINVAL", "fault", "0x1234"
};

class Script {
 public:
  Script(std::string name, std::ostream& out) : name_(std::move(name)), out_(out) {}

  HvScriptResult run(std::istream& in) {
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
        expect = Expectation{trim(line.substr(arrow + 2))};
        line = trim(line.substr(0, arrow));
      }
      execute(line, expect);
    }
    if (in_multicall_) fail("multicall block not closed with 'end'");
    if (!xen_) boot({});
    print_counters();
    return result_;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(name_ + ":" + std::to_string(line_no_) + ": " + what);
  }

  // ---- domain --------------------------------------------------------------------------
  void boot(const std::map<std::string, std::string>& kv) {
    xen::PvDomainSpec spec;
    hw::MachineParams mp;
    xen::XenParams xp;
    for (const auto& [k, v] : kv) {
      if (k == "pages") {
        spec.pages = bounded(k, v, 1, kMaxScriptPages);
      } else if (k == "vcpus") {
        spec.vcpus = static_cast<uint32_t>(bounded(k, v, 1, kMaxScriptCpus));
      } else if (k == "cpus") {
        mp.cpus = static_cast<uint32_t>(bounded(k, v, 1, kMaxScriptCpus));
      } else if (k == "generation") {
        const auto g = xen::kXenGenerationNames.find(v);
        if (!g)
          fail("unknown generation '" + v + "' (valid: " + xen::kXenGenerationNames.valid_names() +
               ")");
        xp.generation = *g;
      } else if (k == "privileged") {
        spec.privileged = v == "yes" || v == "true";
      } else {
        fail("unknown domain key '" + k + "' (valid: pages, vcpus, cpus, generation, privileged)");
      }
    }
    mp.cpus = std::max(mp.cpus, spec.vcpus);
    mp.frames = spec.pages + 1024;
    machine_ = std::make_unique<hw::Machine>(mp, ledger_);
    xen_ = std::make_unique<xen::Hypervisor>(*machine_, ledger_, xp);
    si_ = xen::build_pv_domain(*xen_, spec);
    next_free_ = si_.first_free_pfn.value;
    ledger_.reset();  // the script's counters start after boot
    out_ << "# domain: " << spec.pages << " pages, " << spec.vcpus << " vcpu(s), Xen "
         << xen::name_of(xp.generation) << "\n";
  }

  void ensure_booted() {
    if (!xen_) boot({});
  }

  // ---- values --------------------------------------------------------------------------
  // A domain key's value within [lo, hi], checked before anything is allocated.
  uint64_t bounded(const std::string& key, const std::string& v, uint64_t lo, uint64_t hi) const {
    const uint64_t n = number(v);
    if (n < lo || n > hi) {
      fail("domain " + key + " = " + v + " is out of range (" + std::to_string(lo) + " to " +
           std::to_string(hi) + ")");
    }
    return n;
  }

  // A non-negative integer (decimal, 0x hex or 0 octal); a sign is refused rather than wrapped.
  uint64_t number(const std::string& s) const {
    if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0]))) {
      fail("not a non-negative number: '" + s + "'");
    }
    try {
      std::size_t used = 0;
      const uint64_t v = std::stoull(s, &used, 0);
      if (used != s.size()) fail("not a number: '" + s + "'");
      return v;
    } catch (const std::logic_error&) {
      fail("not a number: '" + s + "'");
    }
  }

  Pfn frame(const std::string& name) const {
    const auto it = frames_.find(name);
    if (it == frames_.end()) {
      if (name == "l4") return si_.pt_base;  // the running kernel L4
      fail("unknown frame '" + name + "' (declare it with 'frame " + name + "')");
    }
    return it->second;
  }
  // A declared frame's machine frame, or a raw one written "mfn:0x123" (for attacks).
  Mfn mfn(const std::string& name) const {
    if (name.rfind("mfn:", 0) == 0) return Mfn{number(name.substr(4))};
    return si_.p2m.at(frame(name).value);
  }

  static uint64_t flag_bit(const std::string& f) {
    static const std::map<std::string, uint64_t> bits{{"P", kPresent},
                                                      {"RW", kRw},
                                                      {"US", kUser},
                                                      {"PWT", kPwt},
                                                      {"PCD", kPcd},
                                                      {"A", kAccessed},
                                                      {"D", kDirty},
                                                      {"PSE", kPse},
                                                      {"PAT", kPat},
                                                      {"G", kGlobal},
                                                      {"NX", kNx},
                                                      {"AVAIL", kAvail0},
                                                      {"GNTTAB", uint64_t{1} << 62}};
    const auto it = bits.find(f);
    return it == bits.end() ? 0 : it->second;
  }

  // VALUE: a number, or pte(FRAME, FLAGS...) / pte(mfn:0x123, FLAGS...)
  uint64_t value(const std::string& text) const {
    const std::string t = trim(text);
    if (t.rfind("pte(", 0) != 0) return number(t);
    if (t.back() != ')') fail("pte(...) is missing its ')'");
    const std::string inner = t.substr(4, t.size() - 5);
    const auto comma = inner.find(',');
    const std::string target = trim(inner.substr(0, comma));
    const Mfn m = mfn(target);
    uint64_t flags = 0;
    if (comma != std::string::npos) {
      for (const auto& f : split_ws(inner.substr(comma + 1))) {
        const uint64_t bit = flag_bit(f);
        if (bit == 0)
          fail("unknown PTE flag '" + f +
               "' (valid: P RW US PWT PCD A D PSE PAT G NX AVAIL GNTTAB)");
        flags |= bit;
      }
    }
    return hw::Pte::make(m, 0).raw() | flags;
  }

  // NAME[IDX] -> machine address of that entry, or its direct-map VA.
  std::pair<std::string, uint64_t> slot(const std::string& text) const {
    const auto open = text.find('['), close = text.find(']');
    if (open == std::string::npos || close == std::string::npos || close < open) {
      fail("expected FRAME[INDEX], got '" + text + "'");
    }
    const uint64_t idx = number(text.substr(open + 1, close - open - 1));
    if (idx >= kEntriesPerTable) fail("entry index " + std::to_string(idx) + " is not below 512");
    return {trim(text.substr(0, open)), idx};
  }

  Vaddr address(const std::string& text) const {
    if (text.find('[') != std::string::npos) {
      const auto [name, idx] = slot(text);
      return abi::direct_map_va(si_, frame(name), idx * 8);
    }
    return Vaddr{number(text)};
  }

  // ---- execution -----------------------------------------------------------------------
  void report(const std::string& line, const Outcome& got, const std::optional<Expectation>& e,
              int line_no = 0) {
    ++result_.lines_run;
    bool ok = true;
    if (e) {
      std::string want = e->text;
      if (want == "ok") want = "0";
      ok = want == got.text;
      if (!ok) ++result_.failed_expectations;
    }
    out_ << std::setw(4) << (line_no != 0 ? line_no : line_no_) << "  " << std::left
         << std::setw(52) << line << std::right << " => " << got.text;
    if (e) out_ << (ok ? "   (as expected)" : "   ** EXPECTED " + e->text + " **");
    out_ << "\n";
  }

  static Outcome rc(int64_t r) { return Outcome{std::string(abi::error_name(r))}; }
  static std::string hex(uint64_t v) {
    std::ostringstream s;
    s << "0x" << std::hex << v;
    return s.str();
  }

  void execute(const std::string& line, const std::optional<Expectation>& expect) {
    const auto words = split_ws(line);
    const std::string& cmd = words[0];
    if (cmd == "domain") {
      if (xen_) fail("'domain' must come before every other command");
      std::map<std::string, std::string> kv;
      for (std::size_t i = 1; i < words.size(); ++i) {
        const auto eq = words[i].find('=');
        if (eq == std::string::npos) fail("expected key=value, got '" + words[i] + "'");
        kv[words[i].substr(0, eq)] = words[i].substr(eq + 1);
      }
      boot(kv);
      return;
    }
    ensure_booted();
    if (cmd == "frame") {
      if (words.size() < 2) fail("'frame' needs at least one name");
      for (std::size_t i = 1; i < words.size(); ++i) {
        if (frames_.count(words[i])) fail("frame '" + words[i] + "' declared twice");
        if (next_free_ >= si_.nr_pages) fail("the domain has no free frames left");
        frames_[words[i]] = Pfn{next_free_++};
      }
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
      if (!in_multicall_) fail("'end' without 'multicall'");
      in_multicall_ = false;
      const int64_t r = xen_->multicall(0, mc_);
      report("multicall (" + std::to_string(mc_.size()) + " entries)", rc(r), expect);
      for (std::size_t i = 0; i < mc_.size(); ++i) {
        report("  [" + std::to_string(i) + "] " + mc_lines_[i], rc(mc_[i].result), mc_expect_[i],
               mc_line_nos_[i]);
      }
      return;
    }
    if (cmd == "audit") {
      const auto problems = xen::audit(*xen_);
      report(line,
             Outcome{problems.empty() ? "clean" : std::to_string(problems.size()) + " problem(s)"},
             expect ? expect : std::optional<Expectation>{Expectation{"clean"}});
      for (const auto& p : problems) out_ << "        " << p << "\n";
      return;
    }
    if (cmd == "counters") {
      print_counters();
      return;
    }
    if (cmd == "read" || cmd == "write" || cmd == "xchg") {
      memory_op(line, words, expect);
      return;
    }
    abi::MulticallEntry entry = hypercall(line, words);
    if (in_multicall_) {
      mc_.push_back(std::move(entry));
      mc_expect_.push_back(expect);
      mc_lines_.push_back(line);
      mc_line_nos_.push_back(line_no_);
      return;
    }
    report(line, rc(issue(entry)), expect);
  }

  void memory_op(const std::string& line, const std::vector<std::string>& words,
                 const std::optional<Expectation>& expect) {
    if (in_multicall_) fail("memory accesses cannot be part of a multicall");
    if (words.size() < 2) fail("'" + words[0] + "' needs an address");
    hw::MemRequest req{address(words[1]), hw::MemOp::kLoad};
    if (words[0] != "read") {
      const auto eq = line.find('=');
      if (eq == std::string::npos) fail("'" + words[0] + "' needs '= VALUE'");
      req.op = words[0] == "write" ? hw::MemOp::kStore : hw::MemOp::kXchg;
      req.value = value(line.substr(eq + 1));
    }
    const auto r = xen_->guest_access(0, req);
    if (!r.ok) {
      report(line, Outcome{"fault"}, expect);
    } else if (req.op == hw::MemOp::kStore) {
      report(line, Outcome{"0"}, expect);
    } else {
      report(line, Outcome{hex(r.value)}, expect);
    }
  }

  static uint64_t flush_flags(const std::vector<std::string>& words, std::size_t from) {
    uint64_t f = 0;
    for (std::size_t i = from; i < words.size(); ++i) {
      if (words[i] == "invlpg") f |= abi::kUvmfInvlpg;
      if (words[i] == "flush") f |= abi::kUvmfTlbFlush;
      if (words[i] == "all") f |= abi::kUvmfAll;
    }
    return f;
  }

  abi::MulticallEntry hypercall(const std::string& line, const std::vector<std::string>& w) {
    abi::MulticallEntry e;
    const std::string& cmd = w[0];
    auto ext = [&](uint32_t c, uint64_t a1, uint64_t a2 = 0) {
      e.op = abi::HypercallNr::kMmuextOp;
      e.mmuext_ops.push_back({c, a1, a2});
    };
    auto need = [&](std::size_t n) {
      if (w.size() < n) fail("'" + cmd + "' needs " + std::to_string(n - 1) + " argument(s)");
    };
    if (cmd == "mmu_update") {
      e.op = abi::HypercallNr::kMmuUpdate;
      std::istringstream reqs(line.substr(line.find(' ') + 1));
      for (std::string one; std::getline(reqs, one, ';');) {
        const auto eq = one.find('=');
        if (eq == std::string::npos) fail("mmu_update request needs 'FRAME[IDX] = VALUE'");
        std::string lhs = trim(one.substr(0, eq));
        uint64_t cmd_bits = abi::kMmuNormalPtUpdate;
        if (lhs.rfind("machphys ", 0) == 0) {
          e.mmu_updates.push_back(
              {maddr_of(mfn(trim(lhs.substr(9)))).value | abi::kMmuMachphysUpdate,
               value(one.substr(eq + 1))});
          continue;
        }
        if (lhs.rfind("preserve_ad ", 0) == 0) {
          cmd_bits = abi::kMmuPtUpdatePreserveAd;
          lhs = trim(lhs.substr(12));
        }
        const auto [name, idx] = slot(lhs);
        e.mmu_updates.push_back(
            {maddr_of(mfn(name), idx * 8).value | cmd_bits, value(one.substr(eq + 1))});
      }
    } else if (cmd == "pin") {
      need(3);
      static const std::map<std::string, uint32_t> levels{{"l1", abi::kMmuextPinL1Table},
                                                          {"l2", abi::kMmuextPinL2Table},
                                                          {"l3", abi::kMmuextPinL3Table},
                                                          {"l4", abi::kMmuextPinL4Table}};
      const auto it = levels.find(w[1]);
      if (it == levels.end()) fail("pin level must be l1, l2, l3 or l4");
      ext(it->second, mfn(w[2]).value);
    } else if (cmd == "unpin") {
      need(2);
      ext(abi::kMmuextUnpinTable, mfn(w[1]).value);
    } else if (cmd == "new_baseptr") {
      need(2);
      ext(abi::kMmuextNewBaseptr, mfn(w[1]).value);
    } else if (cmd == "new_user_baseptr") {
      need(2);
      ext(abi::kMmuextNewUserBaseptr, w[1] == "none" ? 0 : mfn(w[1]).value);
    } else if (cmd == "flush") {
      need(2);
      ext(w[1] == "all" ? abi::kMmuextTlbFlushAll : abi::kMmuextTlbFlushLocal, 0);
    } else if (cmd == "invlpg") {
      need(2);
      ext(abi::kMmuextInvlpgLocal, address(w[1]).value);
    } else if (cmd == "mark_super") {
      need(2);
      ext(abi::kMmuextMarkSuper, number(w[1]));
    } else if (cmd == "remap") {
      need(3);
      if (w[2] != "ro" && w[2] != "rw") fail("remap takes 'ro' or 'rw'");
      e.op = abi::HypercallNr::kUpdateVaMapping;
      const uint64_t flags = kPresent | kAccessed | kNx | (w[2] == "rw" ? (kRw | kDirty) : 0);
      e.uvm = {.va = abi::direct_map_va(si_, frame(w[1])),
               .val = hw::Pte::make(mfn(w[1]), flags).raw(),
               .flags = w.size() > 3 ? flush_flags(w, 3) : abi::kUvmfInvlpg};
    } else if (cmd == "update_va_mapping") {
      // update_va_mapping VA = VALUE [; invlpg|flush [all]]
      const auto eq = line.find('=');
      if (eq == std::string::npos || w.size() < 4) {
        fail("usage: update_va_mapping VA = VALUE [; invlpg|flush [all]]");
      }
      std::string rhs = line.substr(eq + 1);
      uint64_t flags = 0;
      if (const auto semi = rhs.find(';'); semi != std::string::npos) {
        flags = flush_flags(split_ws(rhs.substr(semi + 1)), 0);
        rhs = rhs.substr(0, semi);
      }
      e.op = abi::HypercallNr::kUpdateVaMapping;
      e.uvm = {.va = address(w[1]), .val = value(rhs), .flags = flags};
    } else if (cmd == "iret") {
      e.op = abi::HypercallNr::kIret;
    } else {
      fail("unknown command '" + cmd +
           "' (valid: domain frame read write xchg mmu_update pin unpin new_baseptr "
           "new_user_baseptr flush invlpg remap update_va_mapping mark_super iret multicall end "
           "audit counters)");
    }
    return e;
  }

  int64_t issue(abi::MulticallEntry& e) {
    uint32_t done = 0;
    switch (e.op) {
      case abi::HypercallNr::kMmuUpdate:
        return xen_->mmu_update(0, e.mmu_updates, &done, abi::kDomidSelf);
      case abi::HypercallNr::kMmuextOp:
        return xen_->mmuext_op(0, e.mmuext_ops, &done, abi::kDomidSelf);
      case abi::HypercallNr::kUpdateVaMapping:
        return xen_->update_va_mapping(0, e.uvm);
      case abi::HypercallNr::kIret:
        return xen_->switch_guest_mode(0, false);
      case abi::HypercallNr::kMulticall:  // no nesting, and scripts write no vcpu_op or sched_op
      case abi::HypercallNr::kMemoryOp:   // issued directly (memory_op lines), never here
      case abi::HypercallNr::kVcpuOp:
      case abi::HypercallNr::kSchedOp:
        break;
    }
    return abi::err::kENOSYS;
  }

  void print_counters() {
    out_ << "# counters (non-zero)\n";
    for (const auto& info : sim::kEventTable) {
      const uint64_t n = ledger_.count(info.event);
      if (n != 0)
        out_ << "  " << std::left << std::setw(32) << info.name << std::right << n << "\n";
    }
  }

  std::string name_;
  std::ostream& out_;
  int line_no_ = 0;
  sim::Ledger ledger_;
  std::unique_ptr<hw::Machine> machine_;
  std::unique_ptr<xen::Hypervisor> xen_;
  abi::StartInfo si_;
  uint64_t next_free_ = 0;
  std::map<std::string, Pfn> frames_;
  bool in_multicall_ = false;
  std::vector<abi::MulticallEntry> mc_;
  std::vector<std::optional<Expectation>> mc_expect_;
  std::vector<std::string> mc_lines_;
  std::vector<int> mc_line_nos_;
  HvScriptResult result_;
};

}  // namespace

HvScriptResult run_hv_script(std::istream& in, const std::string& name, std::ostream& out) {
  Script script(name, out);
  return script.run(in);
}

std::string read_hv_script_file(const std::string& path) {
  return read_text_file(path, "script", kMaxScriptBytes);
}

}  // namespace pib::app
