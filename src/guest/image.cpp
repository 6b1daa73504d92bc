// SPDX-License-Identifier: MIT
// Built-in process images. Segment sizes follow typical x86-64 Debian binaries (a static glibc
// program is about 180 pages of text and read-only data; dash is small but maps ld.so and libc);
// touch counts are the pages such a program faults in before doing its work.
#include "guest/image.hpp"

#include "common/error.hpp"
#include "guest/mm_types.hpp"

namespace pib::guest {

namespace {
constexpr uint32_t kR = prot::kRead;
constexpr uint32_t kRw = prot::kRead | prot::kWrite;
constexpr uint32_t kRx = prot::kRead | prot::kExec;

ElfObject static_program(const std::string& file, uint64_t text_touch) {
  return ElfObject{file,
                   {
                       {"hdr", 1, kR, true, 1, false},
                       {"text", 122, kRx, true, text_touch, false},
                       {"rodata", 40, kR, true, 6, false},
                       {"relro", 4, kR, true, 2, false},
                       {"data", 3, kRw, true, 3, true},
                       {"bss", 6, kRw, false, 2, true},
                   }};
}
}  // namespace

uint64_t Image::total_touch_pages() const {
  uint64_t n = stack_touch_pages + heap_pages;
  auto add = [&](const ElfObject& o) {
    for (const Segment& s : o.segments) n += std::min(s.touch_pages, s.pages);
  };
  add(program);
  for (const ElfObject& l : libraries) add(l);
  return n;
}

Image builtin_image(const std::string& name) {
  Image img;
  img.name = name;
  if (name == "tiny-static") {
    // tiny.c: a static binary that returns at once.
    img.program = static_program("tiny", 8);
    img.stack_touch_pages = 1;
    return img;
  }
  if (name == "lmbench-hello") {
    // lat_proc's "hello": a static binary that writes one line.
    img.program = static_program("hello", 16);
    img.heap_pages = 1;
    img.stack_touch_pages = 2;
    return img;
  }
  if (name == "sh") {
    // dash, dynamically linked: ld.so and libc mapped below the mmap base.
    img.pie = true;
    img.program = ElfObject{"dash",
                            {
                                {"hdr", 3, kR, true, 2, false},
                                {"text", 20, kRx, true, 12, false},
                                {"rodata", 5, kR, true, 3, false},
                                {"relro", 1, kR, true, 1, false},
                                {"data", 1, kRw, true, 1, true},
                                {"bss", 2, kRw, false, 1, true},
                            }};
    img.libraries = {
        ElfObject{"ld-linux-x86-64.so.2",
                  {
                      {"hdr", 1, kR, true, 1, false},
                      {"text", 37, kRx, true, 24, false},
                      {"rodata", 10, kR, true, 5, false},
                      {"relro", 2, kR, true, 2, false},
                      {"data", 2, kRw, true, 2, true},
                  }},
        ElfObject{"libc.so.6",
                  {
                      {"hdr", 40, kR, true, 6, false},
                      {"text", 355, kRx, true, 48, false},
                      {"rodata", 86, kR, true, 10, false},
                      {"relro", 4, kR, true, 4, false},
                      {"data", 2, kRw, true, 2, true},
                      {"bss", 13, kRw, false, 3, true},
                  }},
    };
    img.heap_pages = 3;
    img.stack_touch_pages = 3;
    return img;
  }
  throw InputError("unknown image '" + name + "' (built-in: tiny-static, lmbench-hello, sh)");
}

std::vector<std::string> builtin_image_names() {
  return {"tiny-static", "lmbench-hello", "sh"};
}

}  // namespace pib::guest
