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
#include "hw/dma_devices.hpp"
#include "pibooster/xen/pt_pool_validation.hpp"
#include "pibooster/xen/pt_pool_validation_2016.hpp"
#include "xen/audit.hpp"
#include "xen/dma_adversary.hpp"
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

// "-EPERM  done=0" reads as "-EPERM done=0".
std::string collapse_spaces(const std::string& s) {
  std::string out;
  for (const auto& w : split_ws(s)) out += (out.empty() ? "" : " ") + w;
  return out;
}

// What a line promises: "-> ok", "-> -EINVAL", "-> fault", "-> 0x1234".
struct Expectation {
  std::string text;
};

struct Outcome {
  std::string text;                             // "0", "-EINVAL", "fault", "0x1234"
  std::optional<uint32_t> done = std::nullopt;  // mmu_update / mmuext_op: requests completed
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
        expect = Expectation{collapse_spaces(trim(line.substr(arrow + 2)))};
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
    bool caching_mode = false;
    uint64_t max_pages = 0;  // XEN_DOMCTL_max_mem; 0: the domain's size
    std::string policy = "combined";
    auto adversary = xen::DmaAdversaryMode::kOff;
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
        spec.privileged = yes_no(k, v);
      } else if (k == "iommu") {
        spec.iommu = xen::iommu_mode_by_name(v);
      } else if (k == "caching_mode") {
        caching_mode = yes_no(k, v);
      } else if (k == "max_pages") {
        max_pages = bounded(k, v, 1, kMaxScriptPages);
      } else if (k == "superpages") {
        const auto sp = xen::kIommuSuperpagesNames.find(v);
        if (!sp) {
          fail("unknown superpages '" + v +
               "' (valid: " + xen::kIommuSuperpagesNames.valid_names() + ")");
        }
        xp.iommu_superpages = *sp;
      } else if (k == "device") {
        device_ = static_cast<uint16_t>(bounded(k, v, 0, 0xffff));
      } else if (k == "policy") {
        policy = v;
      } else if (k == "adversary") {
        const auto m = xen::kDmaAdversaryModeNames.find(v);
        if (!m) fail("unknown adversary mode '" + v + "' (valid: off, audit, attack)");
        adversary = *m;
      } else {
        fail("unknown domain key '" + k +
             "' (valid: pages, max_pages, vcpus, cpus, generation, privileged, iommu, "
             "caching_mode, superpages, device, policy, adversary)");
      }
    }
    if (device_ && spec.iommu == xen::IommuMode::kNone) fail("'device' needs an iommu mode");
    if (xp.iommu_superpages == xen::IommuSuperpages::kOn &&
        xp.generation != xen::XenGeneration::kModern) {
      fail("superpages=on needs generation=modern: paper-era Xen has no IOMMU superpages");
    }
    if (adversary == xen::DmaAdversaryMode::kAttack && !device_) {
      fail("adversary=attack needs a device");
    }
    mp.cpus = std::max(mp.cpus, spec.vcpus);
    if (max_pages != 0 && max_pages < spec.pages) fail("max_pages below pages");
    mp.frames = std::max(spec.pages, max_pages) + 1024;
    if (spec.iommu != xen::IommuMode::kNone)
      mp.iommu = hw::IommuParams{.caching_mode = caching_mode};
    machine_ = std::make_unique<hw::Machine>(mp, ledger_);
    xen_ = std::make_unique<xen::Hypervisor>(*machine_, ledger_, xp);
    if (policy == "pibooster") {
      xen_->set_validation_policy(std::make_unique<pibooster::PtPoolValidation>());
    } else if (policy == "pibooster-2016") {
      xen_->set_validation_policy(std::make_unique<pibooster::PtPoolValidation2016>());
    } else if (policy != "combined") {
      fail("unknown policy '" + policy + "' (valid: combined, pibooster, pibooster-2016)");
    }
    si_ = xen::build_pv_domain(*xen_, spec);
    // The toolstack's max_mem: room to populate beyond what the builder gave.
    if (max_pages != 0) xen_->domain(si_.domid).config.max_pages = max_pages;
    if (device_) xen_->assign_device(si_.domid, *device_);
    if (adversary != xen::DmaAdversaryMode::kOff) {
      adversary_ = std::make_unique<xen::DmaAdversary>(
          xen::DmaAdversaryParams{.mode = adversary, .device = device_.value_or(0)});
      xen_->set_interleaving_observer(adversary_.get());
    }
    next_free_ = si_.first_free_pfn.value;
    ledger_.reset();  // the script's counters start after boot
    out_ << "# domain: " << spec.pages << " pages, " << spec.vcpus << " vcpu(s), Xen "
         << xen::name_of(xp.generation) << "\n";
  }

  void ensure_booted() {
    if (!xen_) boot({});
  }

  bool yes_no(const std::string& key, const std::string& v) const {
    if (v == "yes" || v == "true") return true;
    if (v == "no" || v == "false") return false;
    fail("domain " + key + " must be yes or no, got '" + v + "'");
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
    const Pfn pfn = frame(name);
    // The guest's own p2m: what populate_physmap handed back replaces the builder's frame.
    if (const auto it = p2m_changes_.find(pfn.value); it != p2m_changes_.end()) return it->second;
    return si_.p2m.at(pfn.value);
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
  uint64_t value_of(const std::string& text) const {
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
    out_ << std::setw(4) << (line_no != 0 ? line_no : line_no_) << "  " << std::left
         << std::setw(52) << line << std::right << " => " << shown;
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
    if (cmd == "vcpu") {
      // "vcpu N" selects the vCPU of the lines that follow; "vcpu N COMMAND..." of one line.
      if (words.size() < 2) fail("'vcpu' needs a vCPU number");
      const uint64_t n = number(words[1]);
      if (n >= si_.vcpus)
        fail("no vcpu " + words[1] + " (the domain has " + std::to_string(si_.vcpus) + ")");
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
    if (cmd == "decrease_reservation" || cmd == "populate_physmap" ||
        cmd == "increase_reservation" || cmd == "current_reservation" ||
        cmd == "maximum_reservation") {
      if (in_multicall_) fail("memory_op lines cannot be part of a multicall in scripts");
      memory_op(line, words, expect);
      return;
    }
    if (cmd == "dma") {
      if (in_multicall_) fail("a device access is not a hypercall");
      dma(line, words, expect);
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
      if (!adversary_) fail("no DMA adversary: add adversary=audit|attack to the domain line");
      report(line,
             Outcome{adversary_->violations() == 0
                         ? "clean"
                         : std::to_string(adversary_->violations()) + " violation(s)"},
             expect ? expect : std::optional<Expectation>{Expectation{"clean"}});
      for (const auto& f : adversary_->findings()) out_ << "        " << f << "\n";
      return;
    }
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
      const int64_t r = xen_->multicall(vcpu_, mc_);
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
      memory_access(line, words, expect);
      return;
    }
    std::string call = line;
    DomId foreigndom = abi::kDomidSelf;
    if (const auto f = call.find(" foreigndom="); f != std::string::npos) {
      const auto end = call.find(' ', f + 1);
      foreigndom = static_cast<DomId>(
          number(call.substr(f + 12, end == std::string::npos ? std::string::npos : end - f - 12)));
      call.erase(f, end == std::string::npos ? std::string::npos : end - f);
    }
    abi::MulticallEntry entry = hypercall(call, split_ws(call));
    entry.foreigndom = foreigndom;
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

  void memory_access(const std::string& line, const std::vector<std::string>& words,
                     const std::optional<Expectation>& expect) {
    if (in_multicall_) fail("memory accesses cannot be part of a multicall");
    if (words.size() < 2) fail("'" + words[0] + "' needs an address");
    hw::MemRequest req{address(words[1]), hw::MemOp::kLoad};
    if (words[0] != "read") {
      const auto eq = line.find('=');
      if (eq == std::string::npos) fail("'" + words[0] + "' needs '= VALUE'");
      req.op = words[0] == "write" ? hw::MemOp::kStore : hw::MemOp::kXchg;
      req.value = value_of(line.substr(eq + 1));
    }
    const auto r = xen_->guest_access(vcpu_, req);
    if (!r.ok) {
      report(line, Outcome{"fault"}, expect);
    } else if (req.op == hw::MemOp::kStore) {
      report(line, Outcome{"0"}, expect);
    } else {
      report(line, Outcome{hex(r.value)}, expect);
    }
  }

  // memory_op: the reservation commands print the extents completed; populate_physmap writes
  // the frames Xen chose into the script's p2m (as a guest does with what comes back).
  void memory_op(const std::string& line, const std::vector<std::string>& words,
                 const std::optional<Expectation>& expect) {
    if (expect && (expect->text == "ok" || expect->text.rfind("ok ", 0) == 0)) {
      fail("memory_op returns a count of extents (or an error): expect a number, not 'ok'");
    }
    const std::string& cmd = words[0];
    abi::MemoryReservation r;
    std::vector<std::string> names;
    for (std::size_t i = 1; i < words.size(); ++i) {
      const std::string& w = words[i];
      if (w.rfind("order=", 0) == 0) {
        r.extent_order = static_cast<uint32_t>(number(w.substr(6)));
      } else if (w.rfind("domid=", 0) == 0) {
        r.domid = static_cast<DomId>(number(w.substr(6)));
      } else if (w.rfind("flags=", 0) == 0) {
        r.mem_flags = static_cast<uint32_t>(number(w.substr(6)));
      } else if (cmd == "populate_physmap") {
        names.push_back(w);
        r.extent_start.push_back(w.rfind("pfn:", 0) == 0 ? number(w.substr(4)) : frame(w).value);
      } else if (cmd == "decrease_reservation") {
        r.extent_start.push_back(mfn(w).value);
      } else if (cmd == "increase_reservation") {
        const uint64_t n = number(w);  // bounded before anything is allocated
        if (n > kMaxScriptExtents) {
          fail("at most " + std::to_string(kMaxScriptExtents) + " extents per memory_op line");
        }
        r.extent_start.resize(n);
      } else {
        fail("'" + cmd + "' takes only domid=N");
      }
      if (r.extent_start.size() > kMaxScriptExtents) {
        fail("at most " + std::to_string(kMaxScriptExtents) + " extents per memory_op line");
      }
    }
    static const std::map<std::string, uint32_t> cmds{
        {"increase_reservation", abi::kXenmemIncreaseReservation},
        {"decrease_reservation", abi::kXenmemDecreaseReservation},
        {"populate_physmap", abi::kXenmemPopulatePhysmap},
        {"current_reservation", abi::kXenmemCurrentReservation},
        {"maximum_reservation", abi::kXenmemMaximumReservation}};
    const int64_t rc = xen_->memory_op(vcpu_, cmds.at(cmd), r);
    report(line, Outcome{rc < 0 ? std::string(abi::error_name(rc)) : std::to_string(rc)}, expect);
    for (int64_t i = 0;
         i < rc && cmd != "decrease_reservation" && i < int64_t(r.extent_start.size()); ++i) {
      const Mfn got{r.extent_start[static_cast<std::size_t>(i)]};
      if (cmd == "populate_physmap" && names[static_cast<std::size_t>(i)].rfind("pfn:", 0) != 0 &&
          (r.domid == abi::kDomidSelf || r.domid == si_.domid)) {
        p2m_changes_[frame(names[static_cast<std::size_t>(i)]).value] = got;
      }
      out_ << "        extent " << i << ": mfn " << hex(got.value) << "\n";
    }
  }

  // A device access to an I/O address, through the IOMMU and its IOTLB as cached (or straight
  // to memory without an IOMMU): the value read, ok, or blocked.
  void dma(const std::string& line, const std::vector<std::string>& words,
           const std::optional<Expectation>& expect) {
    if (words.size() < 3 || (words[1] != "read" && words[1] != "write")) {
      fail("usage: dma read ADDR | dma write ADDR = VALUE (ADDR: FRAME[IDX] or a number)");
    }
    if (!device_) fail("no device: add device=N (and an iommu mode) to the domain line");
    const bool write = words[1] == "write";
    uint64_t value = 0;
    if (write) {
      const auto eq = line.find('=');
      if (eq == std::string::npos) fail("'dma write' needs '= VALUE'");
      value = value_of(line.substr(eq + 1));
    }
    uint64_t iova = 0;
    if (words[2].find('[') != std::string::npos) {
      const auto [name, idx] = slot(words[2]);
      iova = maddr_of(mfn(name), idx * 8).value;  // PV: the I/O address of a frame is its MFN
    } else {
      iova = number(words[2]);
    }
    hw::DmaPath path(machine_->memory(), machine_->iommu(), ledger_, *device_);
    const hw::DmaResult r = path.u64(iova, write, value);
    report(line, Outcome{!r.ok ? "blocked" : write ? "ok" : hex(r.value)}, expect);
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
        if (lhs.rfind("ptr ", 0) == 0) {  // a raw ptr: any address, any command bits
          e.mmu_updates.push_back({raw_ptr(trim(lhs.substr(4))), value_of(one.substr(eq + 1))});
          continue;
        }
        if (lhs.rfind("machphys ", 0) == 0) {
          e.mmu_updates.push_back(
              {maddr_of(mfn(trim(lhs.substr(9)))).value | abi::kMmuMachphysUpdate,
               value_of(one.substr(eq + 1))});
          continue;
        }
        if (lhs.rfind("preserve_ad ", 0) == 0) {
          cmd_bits = abi::kMmuPtUpdatePreserveAd;
          lhs = trim(lhs.substr(12));
        }
        const auto [name, idx] = slot(lhs);
        e.mmu_updates.push_back(
            {maddr_of(mfn(name), idx * 8).value | cmd_bits, value_of(one.substr(eq + 1))});
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
    } else if (cmd == "pool_add" || cmd == "pool_remove") {
      // PiBooster's MMUEXT_PT_POOL_ADD / _REMOVE, one op per frame in one mmuext_op.
      need(2);
      for (std::size_t i = 1; i < w.size(); ++i) {
        ext(cmd == "pool_add" ? abi::kMmuextPtPoolAdd : abi::kMmuextPtPoolRemove, mfn(w[i]).value);
      }
    } else if (cmd == "mmuext") {
      // Any mmuext command: "mmuext CMD [ARG1 [ARG2]]", CMD a number or Xen's name without
      // MMUEXT_ (INVLPG_MULTI, CLEAR_PAGE, SET_LDT, ...); an ARG may be a frame (its MFN).
      need(2);
      const auto named = abi::kMmuextCmdNames.find(w[1]);
      const uint32_t c =
          named ? static_cast<uint32_t>(*named) : static_cast<uint32_t>(number(w[1]));
      ext(c, w.size() > 2 ? argument(w[2]) : 0, w.size() > 3 ? argument(w[3]) : 0);
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
      e.uvm = {.va = address(w[1]), .val = value_of(rhs), .flags = flags};
    } else if (cmd == "iret") {
      e.op = abi::HypercallNr::kIret;
    } else {
      fail("unknown command '" + cmd +
           "' (valid: domain frame read write xchg mmu_update pin unpin new_baseptr "
           "new_user_baseptr flush invlpg remap update_va_mapping mark_super pool_add pool_remove "
           "mmuext iret multicall end audit counters count vcpu dma adversary "
           "decrease_reservation populate_physmap increase_reservation current_reservation "
           "maximum_reservation)");
    }
    return e;
  }

  // A raw mmu_update ptr: a number, or maddr(FRAME[IDX]) / maddr(FRAME), each optionally
  // followed by +N (an offset or command bits: misaligned and undefined commands included).
  uint64_t raw_ptr(const std::string& text) const {
    std::string base = text;
    uint64_t plus = 0;
    if (const auto p = text.rfind('+'); p != std::string::npos) {
      base = trim(text.substr(0, p));
      plus = number(trim(text.substr(p + 1)));
    }
    if (base.rfind("maddr(", 0) != 0) return number(base) + plus;
    if (base.back() != ')') fail("maddr(...) is missing its ')'");
    const std::string inner = trim(base.substr(6, base.size() - 7));
    if (inner.find('[') == std::string::npos) return maddr_of(mfn(inner)).value + plus;
    const auto [name, idx] = slot(inner);
    return maddr_of(mfn(name), idx * 8).value + plus;
  }
  // An mmuext argument: a frame name or mfn:N (its MFN), or a number.
  uint64_t argument(const std::string& text) const {
    if (text.rfind("mfn:", 0) == 0 || frames_.count(text) != 0 || text == "l4") {
      return mfn(text).value;
    }
    return number(text);
  }

  int64_t issue(abi::MulticallEntry& e, std::optional<uint32_t>* done_out) {
    uint32_t done = 0;
    switch (e.op) {
      case abi::HypercallNr::kMmuUpdate: {
        const int64_t rc = xen_->mmu_update(vcpu_, e.mmu_updates, &done, e.foreigndom);
        *done_out = done;
        return rc;
      }
      case abi::HypercallNr::kMmuextOp: {
        const int64_t rc = xen_->mmuext_op(vcpu_, e.mmuext_ops, &done, e.foreigndom);
        *done_out = done;
        return rc;
      }
      case abi::HypercallNr::kUpdateVaMapping:
        return xen_->update_va_mapping(vcpu_, e.uvm);
      case abi::HypercallNr::kIret:
        return xen_->switch_guest_mode(vcpu_, false);
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
  std::map<uint64_t, Mfn> p2m_changes_;  // pfn -> the frame populate_physmap gave it
  VcpuId vcpu_ = 0;                      // the vCPU lines run on ('vcpu N')
  std::optional<uint16_t> device_;       // the domain's assigned device ('device=N')
  std::unique_ptr<xen::DmaAdversary> adversary_;
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
