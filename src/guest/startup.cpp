// SPDX-License-Identifier: MIT
// What a new program does before its own work, in the order it happens: the dynamic loader maps
// the shared libraries (glibc's _dl_map_segments: the whole span from the file with the first
// segment's protection, the hole between the first and last segment made PROT_NONE, each later
// segment mapped over it MAP_FIXED, the bss beyond the last file page as anonymous memory),
// relocates every object (the start-up touches of image.hpp: relocation writes, code and data
// read), makes each RELRO region read-only (_dl_protect_relro; static glibc does the same for
// the program in _dl_non_dynamic_init), then the program writes its stack and heap.
#include "common/error.hpp"
#include "guest/kernel.hpp"

namespace pib::guest {

namespace {
// The address an object's first page was mapped at: its first segment's lowest VMA.
uint64_t object_base(const Mm& mm, const ElfObject& obj) {
  const std::string first = obj.file + ":" + obj.segments.front().name;
  for (const auto& [start, vma] : mm.vmas) {
    if (vma.name == first) return start - obj.segments.front().start_page * kPageSize;
  }
  model_bug("object " + obj.file + " is not mapped");
}
}  // namespace

void Kernel::dl_map_object(Pid pid, const ElfObject& obj) {
  const uint32_t file = object_file(obj);
  const Segment& first = obj.segments.front();
  MapRequest whole =
      MapRequest::of_file(file, first.file_page, obj.span_pages() * kPageSize, first.prot);
  whole.name = obj.file + ":" + first.name;
  const uint64_t base = mmap(pid, whole) - first.start_page * kPageSize;
  const uint64_t first_end = first.start_page + first.pages;
  const Segment& last = obj.segments.back();
  if (last.start_page > first_end) {
    mprotect(pid, base + first_end * kPageSize, (last.start_page - first_end) * kPageSize, 0);
  }
  for (std::size_t i = 1; i < obj.segments.size(); ++i) {
    const Segment& s = obj.segments[i];
    if (s.pages == 0) continue;
    MapRequest r = s.file_backed
                       ? MapRequest::of_file(file, s.file_page, s.pages * kPageSize, s.prot)
                       : MapRequest::anonymous(s.pages * kPageSize, s.prot);
    r.fixed_address = base + s.start_page * kPageSize;
    r.name = obj.file + ":" + s.name;
    mmap(pid, r);
  }
}

void Kernel::dl_protect_relro(Pid pid, const ElfObject& obj) {
  if (obj.relro_pages == 0) return;
  const uint64_t base = object_base(*task(pid).mm, obj);
  mprotect(pid, base + obj.relro_start_page * kPageSize, obj.relro_pages * kPageSize, prot::kRead);
}

void Kernel::run_startup(Pid pid, const Image& image) {
  if (image.interpreter) {
    for (const ElfObject& lib : image.libraries) dl_map_object(pid, lib);
  }
  auto touch_object = [&](const ElfObject& obj) {
    const uint64_t base = object_base(*task(pid).mm, obj);
    for (const Segment& s : obj.segments) {
      const uint64_t end = std::min(s.touch_first + s.touch_pages, s.pages);
      for (uint64_t i = s.touch_first; i < end; ++i) {
        const uint64_t va = base + (s.start_page + i) * kPageSize;
        const bool ok = s.touch_write                 ? store(pid, va, pid)
                        : (s.prot & prot::kExec) != 0 ? fetch(pid, va)
                                                      : load(pid, va).has_value();
        if (!ok) model_bug("start-up touch of " + obj.file + ":" + s.name + " failed");
      }
    }
    // ld.so's memset of the last file page's tail (the kernel did it for what it mapped).
    if (image.interpreter && &obj != &image.program && &obj != &*image.interpreter &&
        obj.zero_fill_page && !store(pid, base + *obj.zero_fill_page * kPageSize, pid)) {
      model_bug("zero fill of " + obj.file + " failed");
    }
  };
  if (image.interpreter) touch_object(*image.interpreter);
  for (const ElfObject& lib : image.libraries) touch_object(lib);
  touch_object(image.program);
  // RELRO: ld.so relocates the objects last-loaded first and protects each after its
  // relocation, the program last, then its own; a static program protects its own.
  for (auto it = image.libraries.rbegin(); it != image.libraries.rend(); ++it) {
    dl_protect_relro(pid, *it);
  }
  dl_protect_relro(pid, image.program);
  if (image.interpreter) dl_protect_relro(pid, *image.interpreter);
  const Mm& m = *task(pid).mm;
  for (uint64_t i = 0; i < image.stack_touch_pages; ++i) {
    if (!store(pid, m.start_stack - 8 - i * kPageSize, pid)) model_bug("stack touch failed");
  }
  if (image.heap_pages != 0) {
    const uint64_t start = brk(pid, 0);
    brk(pid, start + image.heap_pages * kPageSize);
    for (uint64_t i = 0; i < image.heap_pages; ++i) {
      if (!store(pid, start + i * kPageSize, pid)) model_bug("heap touch failed");
    }
  }
}

}  // namespace pib::guest
