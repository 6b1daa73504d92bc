// SPDX-License-Identifier: MIT
// Writing inside an output directory and nowhere else: a file is opened without following a
// symlink (a link planted at its name is refused, not written through), and a folder inside
// the output directory must be a real folder, not a link to one elsewhere.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "common/error.hpp"

namespace pib::app {

// Creates or truncates `path` and writes `text`; InputError naming the path otherwise.
inline void write_file_nofollow(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw InputError("cannot write " + path + ": " + std::strerror(errno) +
                     (errno == ELOOP ? " (it is a symlink)" : ""));
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      throw InputError("cannot write " + path + ": " + why);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) throw InputError("cannot write " + path + ": " + std::strerror(errno));
}

// Writes `path` whole: to a temporary beside it, renamed over it, so readers see all or none.
inline void write_file_whole(const std::string& path, const std::string& text) {
  const std::filesystem::path p(path);
  const std::string tmp = (p.parent_path() / ("." + p.filename().string() + ".tmp")).string();
  write_file_nofollow(tmp, text);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw InputError("cannot rename " + tmp + " to " + path + ": " + ec.message());
}

// `path` as a folder (created with its parents when missing); InputError when it, or what is at
// its name, is a symlink or not a folder.
inline void make_real_dir(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(path, ec);
  if (fs::is_symlink(st)) throw InputError("'" + path + "' is a symlink; refusing to write there");
  if (fs::exists(st) && !fs::is_directory(st)) {
    throw InputError("'" + path + "' exists and is not a directory");
  }
  fs::create_directories(path, ec);
  if (ec) throw InputError("cannot create directory '" + path + "': " + ec.message());
}

}  // namespace pib::app
