// SPDX-License-Identifier: MIT
// The ledger: count (and, once a cost model is attached, modeled time) per event kind.
// Every component charges the one Ledger of its simulation; nothing else advances counts.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "sim/events.hpp"
#include "sim/spans.hpp"

namespace pib::sim {

using Counts = std::array<uint64_t, kEventCount>;

class Ledger {
 public:
  // Charges go to the totals and to the CPU the work is attributed to (the vCPU whose code,
  // or whose hypercall, is running): each CPU's counts give that CPU's virtual clock.
  void charge(Event e, uint64_t n = 1) {
    counts_[static_cast<std::size_t>(e)] += n;
    per_cpu_[cpu_][static_cast<std::size_t>(e)] += n;
    if (clock_on_) clock_[cpu_] += unit_ns_[static_cast<std::size_t>(e)] * static_cast<double>(n);
  }
  uint64_t count(Event e) const { return counts_[static_cast<std::size_t>(e)]; }
  const Counts& counts() const { return counts_; }
  void reset() {
    counts_.fill(0);
    for (auto& c : per_cpu_) c.fill(0);
    for (auto& c : span_counts_) c.fill(0);
    span_instances_.fill(0);
    for (auto& o : open_spans_) o.at_begin.fill(0);
  }
  void set_cpu(uint32_t cpu) {
    if (cpu >= per_cpu_.size()) {
      per_cpu_.resize(cpu + 1, Counts{});
      clock_.resize(cpu + 1, 0.0);
    }
    cpu_ = cpu;
  }
  // The running clock: each CPU's modeled time so far, in ns, advanced by every charge once
  // unit costs are given (the same counts x costs as the cost model, times `scale`). Timers and
  // their interrupts run on it; it stays at 0 without unit costs. Reports do not read it: they
  // compute time from counts.
  void set_clock(const std::array<double, kEventCount>& unit_ns, double scale = 1.0);
  bool clock_on() const { return clock_on_; }
  double clock_ns(uint32_t cpu) const { return cpu < clock_.size() ? clock_[cpu] : 0.0; }
  uint32_t cpu() const { return cpu_; }
  // Spans: counts charged while a span of that kind was open, and how many were closed.
  // `counts_instance` false: more work of an instance counted already (e.g. the deferred free
  // of a table whose unlinking was its own span).
  void begin_span(Span s, bool counts_instance = true) {
    open_spans_.push_back({s, counts_, counts_instance});
  }
  void end_span();
  const Counts& span_counts(Span s) const { return span_counts_[static_cast<std::size_t>(s)]; }
  uint64_t span_instances(Span s) const { return span_instances_[static_cast<std::size_t>(s)]; }

  // Per-CPU counts (index = CPU), for per-vCPU clocks.
  const std::vector<Counts>& per_cpu() const { return per_cpu_; }
  std::vector<Counts> since_per_cpu(const std::vector<Counts>& earlier) const;

  // Counts accumulated since `earlier` was taken (for phases and per-operation breakdowns).
  std::array<uint64_t, kEventCount> since(const std::array<uint64_t, kEventCount>& earlier) const;

 private:
  struct OpenSpan {
    Span span;
    Counts at_begin;
    bool counts_instance;
  };
  Counts counts_{};
  std::vector<Counts> per_cpu_ = std::vector<Counts>(1);
  uint32_t cpu_ = 0;
  bool clock_on_ = false;
  std::array<double, kEventCount> unit_ns_{};
  std::vector<double> clock_ = std::vector<double>(1, 0.0);
  std::vector<OpenSpan> open_spans_;
  std::array<Counts, kSpanCount> span_counts_{};
  std::array<uint64_t, kSpanCount> span_instances_{};
};

// Opens a span for the lifetime of the object.
class SpanScope {
 public:
  SpanScope(Ledger& ledger, Span s, bool counts_instance = true) : ledger_(ledger) {
    ledger_.begin_span(s, counts_instance);
  }
  ~SpanScope() { ledger_.end_span(); }
  SpanScope(const SpanScope&) = delete;
  SpanScope& operator=(const SpanScope&) = delete;

 private:
  Ledger& ledger_;
};

}  // namespace pib::sim
