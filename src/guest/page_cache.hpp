// SPDX-License-Identifier: MIT
// Files and their cached pages. A file is a named run of pages with deterministic contents
// (word 0 of page i holds content_tag(file, i)), read "from disk" into a page-cache page on first
// use and kept there until the cache is dropped.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/types.hpp"

namespace pib::guest {

class KernelCore;

inline constexpr uint64_t content_tag(uint32_t file, uint64_t page) {
  return 0xf11e000000000000ULL | (uint64_t{file} << 32) | page;
}

class PageCache {
 public:
  explicit PageCache(KernelCore& core) : core_(core) {}

  // Registers a file (or returns the existing one of that name).
  uint32_t file(const std::string& name, uint64_t pages);
  const std::string& name(uint32_t file) const { return files_.at(file).name; }
  uint64_t size(uint32_t file) const { return files_.at(file).pages; }

  // The cache page for page `index` of `file`, reading it in on a miss (find_or_create_page).
  Pfn get(uint32_t file, uint64_t index);
  // The cache page if it is already cached (no read): what fault-around may map.
  std::optional<Pfn> find(uint32_t file, uint64_t index) const;
  uint64_t cached_pages() const { return cached_; }
  // drop_caches: frees every cached page no process maps.
  uint64_t drop_unmapped();

 private:
  struct File {
    std::string name;
    uint64_t pages = 0;
    std::map<uint64_t, Pfn> cached;
  };
  KernelCore& core_;
  std::vector<File> files_;
  uint64_t cached_ = 0;
};

}  // namespace pib::guest
