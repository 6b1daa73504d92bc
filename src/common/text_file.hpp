// SPDX-License-Identifier: MIT
// Reading a user-named input file (scenario, cost profile, ground truth, snapshot, script)
// whole, refusing what is not one before reading a byte: a directory, a device such as
// /dev/zero (which never ends), a pipe or socket, or a file larger than a stated limit.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/error.hpp"

namespace pib {

inline constexpr uint64_t kMaxInputFileBytes = 16 << 20;

// The text of `path`; InputError naming `what` ("scenario", "cost profile", ...) and the path
// otherwise.
inline std::string read_text_file(const std::string& path, const std::string& what,
                                  uint64_t max_bytes = kMaxInputFileBytes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw InputError("cannot open " + what + " '" + path + "'");
  if (fs::is_directory(status)) {
    throw InputError(what + " '" + path + "' is a directory, not a file");
  }
  if (!fs::is_regular_file(status)) {
    throw InputError(what + " '" + path + "' is not a regular file (a device, pipe or socket)");
  }
  const uint64_t size = fs::file_size(path, ec);
  if (ec) throw InputError("cannot read " + what + " '" + path + "': " + ec.message());
  if (size > max_bytes) {
    throw InputError(what + " '" + path + "' is " + std::to_string(size) + " bytes; the limit is " +
                     std::to_string(max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot open " + what + " '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace pib
