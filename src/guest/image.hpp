// SPDX-License-Identifier: MIT
// Process images as data: what execve maps (the program's segments, its shared libraries, the
// vDSO pages, heap and stack) and what the program touches when it starts running. Built-in
// images model a small static binary and a dynamically linked shell with its libraries; every
// size is a parameter.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pib::guest {

struct Segment {
  std::string name;  // e.g. "text", "data", "bss"
  uint64_t pages = 1;
  uint32_t prot = 0;         // prot::k*
  bool file_backed = true;   // false: anonymous (bss)
  uint64_t touch_pages = 0;  // pages the program touches at start-up (from the segment start)
  bool touch_write = false;
};

struct ElfObject {
  std::string file;  // page-cache file name
  std::vector<Segment> segments;
};

struct Image {
  std::string name;
  ElfObject program;
  std::vector<ElfObject> libraries;  // mapped top-down below the mmap base, like ld.so does
  bool pie = false;                  // program at 0x555555554000 instead of 0x400000
  uint64_t arg_pages = 1;            // argv/envp pages copied into the new stack by execve
  uint64_t stack_pages = 33;         // the stack VMA's size after exec (pages)
  uint64_t stack_touch_pages = 2;    // stack pages the program writes at start-up
  uint64_t heap_pages = 0;           // brk extension at start-up (malloc arena), all written
  bool vdso = true;                  // [vvar] (3 pages, copied at fork) and [vdso] (2 pages)

  uint64_t total_touch_pages() const;
};

// Built-in images: "tiny-static" (a minimal static binary), "lmbench-hello" (a static hello
// world as lat_proc execs), "sh" (a dynamically linked shell with ld.so and libc).
Image builtin_image(const std::string& name);
std::vector<std::string> builtin_image_names();

}  // namespace pib::guest
