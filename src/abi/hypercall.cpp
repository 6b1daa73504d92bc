// SPDX-License-Identifier: MIT
#include "abi/hypercall.hpp"

namespace pib::abi {

std::string_view error_name(int64_t rc) {
  switch (rc) {
    case err::kOk:
      return "0";
    case err::kEPERM:
      return "-EPERM";
    case err::kENOENT:
      return "-ENOENT";
    case err::kESRCH:
      return "-ESRCH";
    case err::kENXIO:
      return "-ENXIO";
    case err::kE2BIG:
      return "-E2BIG";
    case err::kENOMEM:
      return "-ENOMEM";
    case err::kEACCES:
      return "-EACCES";
    case err::kEFAULT:
      return "-EFAULT";
    case err::kEBUSY:
      return "-EBUSY";
    case err::kEEXIST:
      return "-EEXIST";
    case err::kEINVAL:
      return "-EINVAL";
    case err::kERANGE:
      return "-ERANGE";
    case err::kENOSYS:
      return "-ENOSYS";
    case err::kEOPNOTSUPP:
      return "-EOPNOTSUPP";
    case err::kBouncedToGuestKernel:
      return "bounced";
    default:
      return rc >= 0 ? "positive" : "-E?";
  }
}

std::string mmuext_name(uint32_t cmd) {
  for (const auto& r : kMmuextCmdNames.rows) {
    if (r.value == cmd) return std::string(r.name);
  }
  return "cmd" + std::to_string(cmd);
}

}  // namespace pib::abi
