// SPDX-License-Identifier: MIT
// Keeping page-table pages validated between uses, as XenoLinux 2.4's quicklists did: a source
// that caches tables pinned and read-only asks the platform to make fresh pages so (read-only
// in the direct map, then pinned at their level) and to undo it for pages leaving the cache.
// Implemented by the Xen pv-ops with update_va_mapping and MMUEXT_PIN_Lx_TABLE/UNPIN_TABLE in
// one multicall; bare metal has nothing to pin.
//
// Called by: page-table page sources that hand out kept_pinned pages (src/pibooster/guest/).
#pragma once

#include <vector>

#include "common/error.hpp"
#include "common/types.hpp"
#include "guest/pt_pages.hpp"

namespace pib::guest {

class TablePinPort {
 public:
  virtual ~TablePinPort() = default;
  // Empty pages (constructed for their kind) become validated, pinned, read-only tables of
  // `kind`; their descriptors are marked pinned and kept_pinned.
  virtual void pin_tables(const std::vector<Pfn>& pages, TableKind kind) = 0;
  // Kept tables, unlinked and empty, become ordinary writable pages again.
  virtual void unpin_tables(const std::vector<Pfn>& pages, TableKind kind) = 0;
};

// Bare metal: a design that keeps tables pinned cannot run there.
class NoTablePin final : public TablePinPort {
 public:
  void pin_tables(const std::vector<Pfn>& pages, TableKind kind) override { refuse(pages, kind); }
  void unpin_tables(const std::vector<Pfn>& pages, TableKind kind) override { refuse(pages, kind); }

 private:
  [[noreturn]] static void refuse(const std::vector<Pfn>& pages, TableKind kind) {
    (void)pages, (void)kind;
    throw InputError("this policy keeps page tables pinned by the hypervisor: it needs pv-ops xen");
  }
};

}  // namespace pib::guest
