// SPDX-License-Identifier: MIT
// The invariant auditor: recomputes every general and type reference count from the page tables,
// pins and base pointers that actually exist, and checks every rule Xen relies on. Read-only;
// tests run it after every operation. Returns one human-readable line per violation.
#pragma once

#include <string>
#include <vector>

#include "xen/hypervisor.hpp"

namespace pib::xen {

std::vector<std::string> audit(const Hypervisor& xen);

}  // namespace pib::xen
