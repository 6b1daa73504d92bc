// SPDX-License-Identifier: MIT
// Spans: named stretches of work inside an operation (allocating one L1 table, pinning a
// tree...). The ledger sums the counts charged while a span is open, so the time of a kind of
// span (per instance, with its own breakdown) follows from the same counts and costs as
// everything else. Spans may nest; an outer span includes its inner ones.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace pib::sim {

enum class Span : std::size_t {
  kPtAllocL1,
  kPtAllocL2,
  kPtAllocL3,
  kPgdAlloc,
  kPtFreeL1,
  kPtFreeL2,
  kPtFreeL3,
  kPgdFree,
  kPgdPin,
  kPgdUnpin,
  kCount
};
inline constexpr std::size_t kSpanCount = static_cast<std::size_t>(Span::kCount);

struct SpanInfo {
  Span span;
  std::string_view name;
  std::string_view description;
};

// clang-format off
inline constexpr std::array<SpanInfo, kSpanCount> kSpanTable{{
  {Span::kPtAllocL1, "pt_alloc.l1", "allocate an L1 table: page, zeroing, pv hook, parent entry"},
  {Span::kPtAllocL2, "pt_alloc.l2", "allocate an L2 table: page, zeroing, pv hook, parent entry"},
  {Span::kPtAllocL3, "pt_alloc.l3", "allocate an L3 table: page, zeroing, pv hook, parent entry (kernel and user pgd)"},
  {Span::kPgdAlloc, "pgd_alloc", "allocate a pgd (and under Xen PV its user pgd), copy the kernel half"},
  {Span::kPtFreeL1, "pt_free.l1", "free an L1 table: clear the parent entry, pv release hook, return the page"},
  {Span::kPtFreeL2, "pt_free.l2", "free an L2 table: clear the parent entry, pv release hook, return the page"},
  {Span::kPtFreeL3, "pt_free.l3", "free an L3 table: clear the parent entries, pv release hook, return the page"},
  {Span::kPgdFree, "pgd_free", "free a pgd (and its user pgd)"},
  {Span::kPgdPin, "pgd_pin", "make a whole new tree ready for use (Xen PV: remap read-only and pin)"},
  {Span::kPgdUnpin, "pgd_unpin", "release a whole tree before teardown (Xen PV: unpin and remap writable)"},
}};
// clang-format on

constexpr std::string_view span_name(Span s) {
  return kSpanTable[static_cast<std::size_t>(s)].name;
}

}  // namespace pib::sim
