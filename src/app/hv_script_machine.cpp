// SPDX-License-Identifier: MIT
// hv-script lines that are not hypercalls: guest memory accesses, device DMA, the clock and the
// one-shot timer, lines armed to run between two internal steps of a hypercall ('at'), and the
// checkers (auditor, DMA adversary).
#include <algorithm>

#include "app/hv_script_session.hpp"
#include "hw/dma_devices.hpp"
#include "xen/audit.hpp"

namespace pib::app::hvs {

namespace {
// Lines that do not run on one of the domain's vCPUs: a device, the toolstack, the checkers.
bool off_vcpu(const std::string& cmd) {
  return cmd == "dma" || cmd == "destroy" || cmd == "info" || cmd == "count" || cmd == "audit" ||
         cmd == "adversary";
}
// Lines that enter the hypervisor (so only at a point where another CPU may): all but a device
// and the read-only checkers.
bool enters_hypervisor(const std::string& cmd) {
  return !off_vcpu(cmd) || cmd == "destroy";
}
}  // namespace

void Script::memory_access(const std::string& line, const std::vector<std::string>& words,
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

// A device access to an I/O address, through the IOMMU and its IOTLB as cached (or straight
// to memory without an IOMMU): the value read, ok, or blocked.
void Script::dma(const std::string& line, const std::vector<std::string>& words,
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

// time: the vCPU's system time. timer +NS / timer stop: VCPUOP_set_singleshot_timer at now + NS,
// or VCPUOP_stop_singleshot_timer. Once the timer expires, a long hypercall stops between two
// items and continues through a continuation (count xen.preempted).
void Script::timer(const std::string& line, const std::vector<std::string>& words,
                   const std::optional<Expectation>& expect) {
  if (!clock_) fail("no clock: add clock=NS (ns per event) to the domain line");
  if (words[0] == "time") {
    if (words.size() != 1) fail("usage: time");
    report(line, Outcome{std::to_string(xen_->system_time_ns(vcpu_))}, expect);
    return;
  }
  if (words.size() != 2 || (words[1] != "stop" && words[1].rfind('+', 0) != 0)) {
    fail("usage: timer +NS | timer stop");
  }
  int64_t r = 0;
  if (words[1] == "stop") {
    r = xen_->vcpu_op(vcpu_, abi::kVcpuOpStopSingleshotTimer, 0);
  } else {
    const uint64_t delay = number(words[1].substr(1));
    r = xen_->vcpu_op(vcpu_, abi::kVcpuOpSetSingleshotTimer, xen_->system_time_ns(vcpu_) + delay);
  }
  report(line, rc(r), expect);
}

// at STEP [FRAME]: LINE -- LINE runs at the first point of the coming hypercalls where the
// hypervisor announces STEP (for FRAME, if given), as a device or another vCPU would act there
// (src/xen/interleaving.hpp). A line that enters the hypervisor runs only where the announcing
// vCPU holds no frame-table state (a reentrant point) and on another vCPU; a DMA runs anywhere.
void Script::arm(const std::string& line, const std::vector<std::string>& words,
                 const std::optional<Expectation>& expect) {
  if (at_depth_ != 0) fail("a line run at a step cannot arm another");
  if (in_multicall_) fail("'at' cannot be part of a multicall");
  const auto colon = line.find(':');
  if (words.size() < 2 || colon == std::string::npos) {
    fail("usage: at STEP [FRAME]: LINE (STEP: " + std::string(xen::kStepNames.valid_names()) + ")");
  }
  const auto head = split_ws(line.substr(2, colon - 2));
  ArmedLine a;
  const auto step = xen::kStepNames.find(head.empty() ? "" : head[0]);
  if (!step) fail("unknown step (valid: " + std::string(xen::kStepNames.valid_names()) + ")");
  a.step = *step;
  if (head.size() == 2) a.mfn = mfn(head[1]);
  if (head.size() > 2) fail("usage: at STEP [FRAME]: LINE");
  a.line = trim(line.substr(colon + 1));
  a.expect = expect;
  a.line_no = line_no_;
  const auto inner = split_ws(a.line);
  if (inner.empty()) fail("'at' needs a line to run");
  static const std::vector<std::string> kNotAtAStep = {"at",    "domain", "multicall", "end",
                                                       "frame", "other",  "vcpu"};
  const bool explicit_vcpu = inner[0] == "vcpu" && inner.size() > 2;
  const std::string& what = explicit_vcpu ? inner[2] : inner[0];
  if (std::find(kNotAtAStep.begin(), kNotAtAStep.end(), what) != kNotAtAStep.end()) {
    fail("'" + what + "' cannot run at a step");
  }
  if (!off_vcpu(what) && (!explicit_vcpu || number(inner[1]) == vcpu_)) {
    fail("a line that enters the hypervisor runs at a step on another vCPU: write 'at " + head[0] +
         (head.size() == 2 ? " " + head[1] : "") + ": vcpu N " + a.line + "'");
  }
  armed_.push_back(a);
  if (!adversary_) xen_->set_interleaving_observer(this);
  report(line.substr(0, colon + 1) + " ...", Outcome{"armed"}, std::nullopt);
}

void Script::at(xen::Hypervisor& xen, const xen::InterleavingPoint& point) {
  (void)xen;
  if (at_depth_ != 0) return;  // the armed line's own hypercall announces steps too
  for (std::size_t i = 0; i < armed_.size(); ++i) {
    if (armed_[i].fired || armed_[i].step != point.step) continue;
    if (armed_[i].mfn && *armed_[i].mfn != point.mfn) continue;
    const auto inner = split_ws(armed_[i].line);
    const std::string& what = inner[0] == "vcpu" && inner.size() > 2 ? inner[2] : inner[0];
    const bool same_vcpu = inner[0] == "vcpu" && number(inner[1]) == point.vcpu;
    if (enters_hypervisor(what) && (!point.reentrant || same_vcpu)) continue;
    armed_[i].fired = true;
    const ArmedLine a = armed_[i];
    const int saved_line = line_no_;
    line_no_ = a.line_no;
    ++at_depth_;
    out_ << "        at " << xen::name_of(point.step)
         << (point.mfn != kInvalidMfn ? " " + hex(point.mfn.value) : std::string()) << " (vcpu "
         << point.vcpu << "'s hypercall):\n";
    execute(a.line, a.expect);
    --at_depth_;
    line_no_ = saved_line;
  }
}

void Script::check_armed_fired() {
  for (const ArmedLine& a : armed_) {
    if (a.fired) continue;
    ++result_.failed_expectations;
    out_ << std::string(4 - std::min<std::size_t>(4, std::to_string(a.line_no).size()), ' ')
         << a.line_no << "  at " << xen::name_of(a.step) << ": " << a.line
         << "   ** NEVER REACHED: no hypercall announced that step where the line could run **\n";
  }
}

void Script::destroy_line(const std::string& line, const std::vector<std::string>& words,
                          const std::optional<Expectation>& expect) {
  if (words.size() != 1) fail("usage: destroy");
  if (destroyed_) fail("the domain is destroyed already");
  if (in_multicall_) fail("'destroy' is the toolstack's, not part of a multicall");
  xen_->destroy_domain(si_.domid);
  destroyed_ = true;
  report(line, Outcome{"0"}, expect);
}

void Script::info_line(const std::string& line, const std::vector<std::string>& words,
                       const std::optional<Expectation>& expect) {
  if (words.size() != 2) fail("usage: info FRAME");
  const Mfn m = mfn(words[1]);
  if (!xen_->frame_table().valid(m)) fail("mfn " + hex(m.value) + " is outside memory");
  const xen::PageInfo& pg = xen_->frame_table()[m];
  std::string text =
      pg.owner == xen::kNoOwner ? std::string("free") : "dom" + std::to_string(pg.owner);
  text += " count=" + std::to_string(pg.count) + " " + std::string(xen::type_name(pg.type)) +
          " type_count=" + std::to_string(pg.type_count);
  if (pg.validated) text += " validated";
  if (pg.pinned) text += " pinned";
  if (pg.allocated) text += " allocated";
  if (pg.dma_revoked) text += " dma_revoked";
  if (pg.dma_revoke_pending) text += " dma_revoke_pending";
  if (pg.partial) text += " partial(" + std::to_string(pg.nr_validated) + ")";
  if (pg.leaked_refs != 0) text += " leaked_refs=" + std::to_string(pg.leaked_refs);
  report(line, Outcome{text}, expect);
}

void Script::audit_line(const std::string& line, const std::optional<Expectation>& expect) {
  const auto problems = xen::audit(*xen_);
  report(line,
         Outcome{problems.empty() ? "clean" : std::to_string(problems.size()) + " problem(s)"},
         expect ? expect : std::optional<Expectation>{Expectation{"clean"}});
  for (const auto& p : problems) out_ << "        " << p << "\n";
}

void Script::adversary_line(const std::string& line, const std::optional<Expectation>& expect) {
  if (!adversary_) fail("no DMA adversary: add adversary=audit|attack to the domain line");
  report(line,
         Outcome{adversary_->violations() == 0
                     ? "clean"
                     : std::to_string(adversary_->violations()) + " violation(s)"},
         expect ? expect : std::optional<Expectation>{Expectation{"clean"}});
  for (const auto& f : adversary_->findings()) out_ << "        " << f << "\n";
}

}  // namespace pib::app::hvs
