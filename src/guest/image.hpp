// SPDX-License-Identifier: MIT
// Process images as data: what execve maps (the program's segments, its ELF interpreter, the
// vDSO pages, heap and stack), what the dynamic loader maps after it (shared libraries, their
// RELRO mprotect) and what the program touches when it starts running. Images come from real
// ELF files (elf_image.hpp) or, where a file is missing, from built-in descriptions of the same
// shape; every size is a parameter.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pib::guest {

struct Segment {
  std::string name;         // e.g. "text", "data", "bss"
  uint64_t start_page = 0;  // first page, relative to the object's first page
  uint64_t pages = 1;
  uint32_t prot = 0;         // prot::k*
  bool file_backed = true;   // false: anonymous (the bss beyond the last file page)
  uint64_t file_page = 0;    // the file page mapped at the segment's first page
  uint64_t touch_first = 0;  // first page (within the segment) touched at start-up
  uint64_t touch_pages = 0;  // pages the program touches at start-up from touch_first
  bool touch_write = false;
};

struct ElfObject {
  std::string file;               // page-cache file name
  uint64_t file_pages = 0;        // the file's size in pages
  std::vector<Segment> segments;  // by address
  // ET_EXEC: the absolute address of the first page; 0 for a position-independent object.
  uint64_t link_address = 0;
  // PT_GNU_RELRO, page-aligned as ld.so's _dl_protect_relro: made read-only after relocation.
  uint64_t relro_start_page = 0;
  uint64_t relro_pages = 0;
  // The last file page of a segment whose memory size exceeds its file size: its tail is zeroed
  // by the loader (the kernel's padzero, ld.so's memset), a write.
  std::optional<uint64_t> zero_fill_page;

  uint64_t span_pages() const;  // first page to the end of the last segment
};

struct Image {
  std::string name;
  ElfObject program;
  bool pie = false;                      // ET_DYN program: loaded at the PIE base
  std::optional<ElfObject> interpreter;  // PT_INTERP: mapped by the kernel at exec
  std::vector<ElfObject> libraries;      // DT_NEEDED: mapped by ld.so at start-up, in order
  // What execve copies onto the new stack: the strings (file name, argv, envp) and their counts.
  uint64_t string_bytes = 64;
  uint32_t argc = 1;
  uint32_t envc = 0;
  uint64_t stack_touch_pages = 2;  // stack pages the program writes below its initial pointer
  uint64_t heap_pages = 0;         // brk extension at start-up (malloc arena), all written
  bool vdso = true;                // [vvar] (6 pages) and [vdso] (2 pages)
};

// Built-in images: "tiny-static" (tiny.c of the ground truth: static, no libc), "lmbench-hello"
// (a static hello world as lat_proc execs), "sh" (dash with its ld.so and libc). Each is read from
// its ELF file (built with the project, or /bin/dash here); a built-in description stands in
// where the file is missing.
Image builtin_image(const std::string& name);
std::vector<std::string> builtin_image_names();
// The built-in description alone (the fallback, and for tests that want a fixed shape).
Image described_image(const std::string& name);

}  // namespace pib::guest
