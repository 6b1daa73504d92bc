// SPDX-License-Identifier: MIT
// The state of one running hypercall script (docs/hv-script.md) and the parts that act on it:
// the line loop and its results (hv_script.cpp), the domain line and the second domain
// (hv_script_domain.cpp), operands (hv_script_operands.cpp), hypercalls and memory_op
// (hv_script_hypercalls.cpp), and what is not a hypercall: guest and device memory accesses,
// the clock and timers, actions between a hypercall's internal steps, the checkers
// (hv_script_machine.cpp). Internal to the hv-script front end.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "abi/start_info.hpp"
#include "app/hv_script.hpp"
#include "common/error.hpp"
#include "hw/machine.hpp"
#include "xen/dma_adversary.hpp"
#include "xen/hypervisor.hpp"

namespace pib::app::hvs {

std::vector<std::string> split_ws(const std::string& s);
std::string trim(const std::string& s);
std::string hex(uint64_t v);

// What a line promises: "-> ok", "-> -EINVAL", "-> fault", "-> 0x1234".
struct Expectation {
  std::string text;
};

struct Outcome {
  std::string text;                             // "0", "-EINVAL", "fault", "0x1234"
  std::optional<uint32_t> done = std::nullopt;  // mmu_update / mmuext_op: requests completed
};

// A line armed to run between two internal steps of the next hypercalls ('at STEP ...').
struct ArmedLine {
  xen::Step step = xen::Step::kBetweenOps;
  std::optional<Mfn> mfn;  // only at a step concerning this frame
  std::string line;
  std::optional<Expectation> expect;
  int line_no = 0;
  bool fired = false;
};

class Script : public xen::InterleavingObserver {
 public:
  Script(std::string name, std::ostream& out) : name_(std::move(name)), out_(out) {}
  ~Script() override;
  HvScriptResult run(std::istream& in);

  // xen::InterleavingObserver: runs the armed lines whose step has come.
  void at(xen::Hypervisor& xen, const xen::InterleavingPoint& point) override;

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(name_ + ":" + std::to_string(line_no_) + ": " + what);
  }

  // ---- hv_script.cpp: lines and results -------------------------------------------------
  void execute(const std::string& line, const std::optional<Expectation>& expect);
  void report(const std::string& line, const Outcome& got, const std::optional<Expectation>& e,
              int line_no = 0);
  static Outcome rc(int64_t r);
  void print_counters();

  // ---- hv_script_domain.cpp --------------------------------------------------------------
  void boot(const std::map<std::string, std::string>& kv);
  void ensure_booted() {
    if (!xen_) boot({});
  }
  void boot_other(const std::map<std::string, std::string>& kv);
  std::map<std::string, std::string> key_values(const std::vector<std::string>& words,
                                                std::size_t from) const;
  bool yes_no(const std::string& key, const std::string& v) const;
  uint64_t bounded(const std::string& key, const std::string& v, uint64_t lo, uint64_t hi) const;
  void declare_frames(const std::vector<std::string>& words, std::size_t from, bool other);
  // Runs one line as the second domain (its vCPU 0; FRAME[IDX] addresses its direct map).
  void as_other(const std::string& line, const std::optional<Expectation>& expect);

  // ---- hv_script_operands.cpp ------------------------------------------------------------
  uint64_t number(const std::string& s) const;
  // A domain id (16 bits: a larger number is an error, not wrapped).
  DomId domid(const std::string& s) const;
  // Removes " KEY=VALUE" from `call` and returns VALUE (nullopt when absent; given twice is an
  // error).
  std::optional<std::string> take_option(std::string& call, const std::string& key) const;
  // A declared frame: its domain's start info and guest frame number.
  struct Named {
    bool other = false;
    Pfn pfn;
  };
  Named named(const std::string& name) const;
  Pfn frame(const std::string& name) const { return named(name).pfn; }
  Mfn mfn(const std::string& name) const;
  static uint64_t flag_bit(const std::string& f);
  uint64_t value_of(const std::string& text) const;
  std::pair<std::string, uint64_t> slot(const std::string& text) const;
  Vaddr address(const std::string& text) const;
  uint64_t raw_ptr(const std::string& text) const;
  uint64_t argument(const std::string& text) const;
  static uint64_t flush_flags(const std::vector<std::string>& words, std::size_t from);
  // The running domain's start info ('other' lines run as the second domain).
  const abi::StartInfo& running() const { return as_other_ ? other_ : si_; }

  // ---- hv_script_hypercalls.cpp ----------------------------------------------------------
  abi::MulticallEntry hypercall(const std::string& line, const std::vector<std::string>& w);
  int64_t issue(abi::MulticallEntry& e, std::optional<uint32_t>* done_out);
  void memory_op(const std::string& line, const std::vector<std::string>& words,
                 const std::optional<Expectation>& expect);
  void end_multicall(const std::optional<Expectation>& expect);
  // batch LINE ; LINE ...: the mmuext ops of every part in one mmuext_op.
  // `line` without its foreigndom=, which applies to the whole mmuext_op.
  void batch(const std::string& line, DomId foreigndom, const std::optional<Expectation>& expect);

  // ---- hv_script_machine.cpp -------------------------------------------------------------
  void memory_access(const std::string& line, const std::vector<std::string>& words,
                     const std::optional<Expectation>& expect);
  void dma(const std::string& line, const std::vector<std::string>& words,
           const std::optional<Expectation>& expect);
  void timer(const std::string& line, const std::vector<std::string>& words,
             const std::optional<Expectation>& expect);
  void arm(const std::string& line, const std::vector<std::string>& words,
           const std::optional<Expectation>& expect);
  void check_armed_fired();
  void audit_line(const std::string& line, const std::optional<Expectation>& expect);
  // destroy: the toolstack tears the domain down (Hypervisor::destroy_domain, another CPU).
  void destroy_line(const std::string& line, const std::vector<std::string>& words,
                    const std::optional<Expectation>& expect);
  // info FRAME: the frame's page_info (owner, counts, type, validated, pinned, pool state).
  void info_line(const std::string& line, const std::vector<std::string>& words,
                 const std::optional<Expectation>& expect);
  void adversary_line(const std::string& line, const std::optional<Expectation>& expect);

  std::string name_;
  std::ostream& out_;
  int line_no_ = 0;
  sim::Ledger ledger_;
  std::unique_ptr<hw::Machine> machine_;
  std::unique_ptr<xen::Hypervisor> xen_;
  abi::StartInfo si_;
  uint64_t next_free_ = 0;
  std::map<std::string, Named> frames_;
  std::map<uint64_t, Mfn> p2m_changes_;  // pfn -> the frame populate_physmap gave it
  VcpuId vcpu_ = 0;                      // the vCPU lines run on ('vcpu N')
  std::optional<uint16_t> device_;       // the domain's assigned device ('device=N')
  std::unique_ptr<xen::DmaAdversary> adversary_;
  bool clock_ = false;  // 'domain ... clock=NS': every event costs NS on the running clock
  // The second domain ('other'), its free frames, and whether a line runs as it.
  std::optional<abi::StartInfo> other_built_;
  abi::StartInfo other_;
  uint64_t other_next_free_ = 0;
  bool as_other_ = false;
  // Lines armed with 'at', and the depth of lines running at a step (they may not arm).
  std::vector<ArmedLine> armed_;
  int at_depth_ = 0;
  bool destroyed_ = false;
  bool in_multicall_ = false;
  std::vector<abi::MulticallEntry> mc_;
  std::vector<std::optional<Expectation>> mc_expect_;
  std::vector<std::string> mc_lines_;
  std::vector<int> mc_line_nos_;
  HvScriptResult result_;
};

}  // namespace pib::app::hvs
