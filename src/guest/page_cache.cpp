// SPDX-License-Identifier: MIT
#include "guest/page_cache.hpp"

#include "common/error.hpp"
#include "guest/kernel_core.hpp"

namespace pib::guest {

uint32_t PageCache::file(const std::string& name, uint64_t pages) {
  for (uint32_t i = 0; i < files_.size(); ++i) {
    if (files_[i].name == name) {
      if (files_[i].pages < pages) files_[i].pages = pages;
      return i;
    }
  }
  files_.push_back(File{name, pages, {}});
  return static_cast<uint32_t>(files_.size() - 1);
}

Pfn PageCache::get(uint32_t file, uint64_t index) {
  File& f = files_.at(file);
  if (index >= f.pages) model_bug("page cache read beyond the end of " + f.name);
  auto it = f.cached.find(index);
  if (it != f.cached.end()) return it->second;
  // Read from "disk": a zeroed page with the file's content tag in its first word.
  const Pfn pfn = core_.alloc_page(true);
  core_.kstore(core_.direct_va(pfn), content_tag(file, index));
  core_.pages().page(pfn).page_cache = true;
  f.cached.emplace(index, pfn);
  ++cached_;
  return pfn;
}

std::optional<Pfn> PageCache::find(uint32_t file, uint64_t index) const {
  const File& f = files_.at(file);
  auto it = f.cached.find(index);
  if (it == f.cached.end()) return std::nullopt;
  return it->second;
}

uint64_t PageCache::drop_unmapped() {
  uint64_t dropped = 0;
  for (File& f : files_) {
    for (auto it = f.cached.begin(); it != f.cached.end();) {
      Page& pg = core_.pages().page(it->second);
      if (pg.mapcount != 0 || pg.refcount != 1) {
        ++it;
        continue;
      }
      core_.pages().put(it->second);
      it = f.cached.erase(it);
      --cached_;
      ++dropped;
    }
  }
  return dropped;
}

}  // namespace pib::guest
