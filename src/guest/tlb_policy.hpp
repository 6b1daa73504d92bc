// SPDX-License-Identifier: MIT
// x86 Linux's choice between flushing a range page by page and flushing the whole TLB
// (flush_tlb_mm_range with tlb_single_page_flush_ceiling).
#pragma once

#include <cstdint>

#include "common/types.hpp"

namespace pib::guest {

// TLB_FLUSH_ALL: the end of a range that means "everything".
inline constexpr Vaddr kTlbFlushAll{~uint64_t{0}};
inline constexpr uint64_t kTlbSinglePageFlushCeiling = 33;

constexpr bool flush_is_full(Vaddr start, Vaddr end) {
  return end == kTlbFlushAll || ((end - start) >> kPageShift) > kTlbSinglePageFlushCeiling;
}

}  // namespace pib::guest
