// SPDX-License-Identifier: MIT
// The invariant auditor: recomputes every general and type reference count from the page tables,
// pins and base pointers that actually exist, and checks every rule Xen relies on. Read-only;
// tests run it after every operation. Returns one human-readable line per violation.
#pragma once

#include <string>
#include <vector>

#include "xen/hypervisor.hpp"

namespace pib::xen {

// One violation; `kind` names the few a caller may need to tell apart without reading the text.
enum class AuditKind {
  kOther,
  kIommuMapsUnowned,  // a synchronised domain's IOMMU maps `frame`, which it does not own
};
struct AuditProblem {
  AuditKind kind = AuditKind::kOther;
  Mfn frame = kInvalidMfn;  // kIommuMapsUnowned: the frame
  std::string text;
};

std::vector<AuditProblem> audit_problems(const Hypervisor& xen);
// The TLB rule alone (every guest-usable writable translation a CPU caches leads to a
// writable-typed frame): all a guest access can break when it did not enter Xen, since only
// Xen changes the frame table and the I/O page tables.
std::vector<AuditProblem> audit_tlb_problems(const Hypervisor& xen);
// The problems' texts.
std::vector<std::string> audit(const Hypervisor& xen);

}  // namespace pib::xen
