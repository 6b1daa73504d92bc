// SPDX-License-Identifier: MIT
// Built-in process images: read from their ELF files (data/elf, built with the project, and
// /bin/dash with its loader and libraries from this machine), each with what exec copies onto
// its stack and what it touches at start-up. Where a file is missing the built-in description
// of the same program stands in (sizes of typical x86-64 Debian binaries: a static glibc program
// is about 180 pages of text and read-only data; dash is small but maps ld.so and libc).
#include "guest/image.hpp"

#include <cstdlib>

#include "common/error.hpp"
#include "guest/elf_image.hpp"
#include "guest/mm_types.hpp"

#ifndef PIB_ELF_DIR
#define PIB_ELF_DIR ""
#endif

namespace pib::guest {

namespace {
constexpr uint32_t kR = prot::kRead;
constexpr uint32_t kRw = prot::kRead | prot::kWrite;
constexpr uint32_t kRx = prot::kRead | prot::kExec;

struct Part {
  const char* name;
  uint64_t pages;
  uint32_t prot;
  bool file_backed;
  uint64_t touch;
  bool write;
};

// A described object: its parts laid out one after another, file pages in the same order.
ElfObject described(const std::string& file, std::initializer_list<Part> parts) {
  ElfObject obj;
  obj.file = file;
  uint64_t page = 0;
  for (const Part& p : parts) {
    Segment s;
    s.name = p.name;
    s.start_page = page;
    s.pages = p.pages;
    s.prot = p.prot;
    s.file_backed = p.file_backed;
    s.file_page = p.file_backed ? page : 0;
    s.touch_pages = p.touch;
    s.touch_write = p.write;
    obj.segments.push_back(s);
    page += p.pages;
    if (p.file_backed) obj.file_pages = page;
  }
  return obj;
}

ElfObject static_program(const std::string& file, uint64_t text_touch) {
  ElfObject o = described(file, {{"hdr", 1, kR, true, 1, false},
                                 {"text", 122, kRx, true, text_touch, false},
                                 {"rodata", 40, kR, true, 6, false},
                                 {"relro", 4, kR, true, 2, false},
                                 {"data", 3, kRw, true, 3, true},
                                 {"bss", 6, kRw, false, 2, true}});
  o.link_address = 0x400000;
  return o;
}

// Start-up touch counts per object (elf_image.hpp's rule), from the built-in descriptions: tiny
// runs three instructions of its entry page; the rest as the descriptions below.
StartupTouches touches_for(const std::string& file) {
  if (file == "tiny") return {.text = 1, .ro = 0, .bss = 0};
  if (file == "dash") return {.text = 12, .ro = 3, .bss = 1};
  if (file == "ld-linux-x86-64.so.2") return {.text = 24, .ro = 5, .bss = 0};
  if (file == "libc.so.6") return {.text = 48, .ro = 10, .bss = 3};
  return {.text = 16, .ro = 6, .bss = 2};  // a static glibc program (hello)
}

std::string elf_dir() {
  const char* env = std::getenv("PIB_ELF_DIR");
  return env != nullptr && *env != '\0' ? env : PIB_ELF_DIR;
}

// What exec copies and the program writes, per program (lat_proc execs "/tmp/hello" with only
// its name as argv and no environment; bench.c execs "/tiny" the same way; the shell gets
// "sh -c CMD" and a small environment).
void set_process(Image& img) {
  if (img.name == "tiny-static") {
    img.string_bytes = sizeof("/tiny") + sizeof("tiny");
    img.stack_touch_pages = 0;  // _start never touches its stack
  } else if (img.name == "lmbench-hello") {
    img.string_bytes = 2 * sizeof("/tmp/hello");
    img.heap_pages = 1;
    img.stack_touch_pages = 2;
  } else {
    img.string_bytes = 512;
    img.argc = 3;
    img.envc = 8;
    img.heap_pages = 3;
    img.stack_touch_pages = 3;
  }
}
}  // namespace

uint64_t ElfObject::span_pages() const {
  uint64_t end = 0;
  for (const Segment& s : segments) end = std::max(end, s.start_page + s.pages);
  return end;
}

Image described_image(const std::string& name) {
  Image img;
  img.name = name;
  if (name == "tiny-static") {
    // tiny.c built -static -nostdlib: headers, _start, and its unwind table, a page each.
    img.program = described("tiny", {{"hdr", 1, kR, true, 0, false},
                                     {"text", 1, kRx, true, 1, false},
                                     {"eh", 1, kR, true, 0, false}});
    img.program.link_address = 0x400000;
  } else if (name == "lmbench-hello") {
    img.program = static_program("hello", 16);
  } else if (name == "sh") {
    img.pie = true;
    img.program = described("dash", {{"hdr", 3, kR, true, 2, false},
                                     {"text", 20, kRx, true, 12, false},
                                     {"rodata", 5, kR, true, 3, false},
                                     {"relro", 1, kR, true, 1, false},
                                     {"data", 1, kRw, true, 1, true},
                                     {"bss", 2, kRw, false, 1, true}});
    img.interpreter = described("ld-linux-x86-64.so.2", {{"hdr", 1, kR, true, 1, false},
                                                         {"text", 37, kRx, true, 24, false},
                                                         {"rodata", 10, kR, true, 5, false},
                                                         {"relro", 2, kR, true, 2, false},
                                                         {"data", 2, kRw, true, 2, true}});
    img.libraries = {described("libc.so.6", {{"hdr", 40, kR, true, 6, false},
                                             {"text", 355, kRx, true, 48, false},
                                             {"rodata", 86, kR, true, 10, false},
                                             {"relro", 4, kR, true, 4, false},
                                             {"data", 2, kRw, true, 2, true},
                                             {"bss", 13, kRw, false, 3, true}})};
  } else {
    throw InputError("unknown image '" + name + "' (built-in: tiny-static, lmbench-hello, sh)");
  }
  set_process(img);
  return img;
}

Image builtin_image(const std::string& name) {
  std::string path;
  if (name == "tiny-static") path = elf_dir() + "/tiny";
  if (name == "lmbench-hello") path = elf_dir() + "/hello";
  if (name == "sh") path = "/bin/dash";
  if (path.empty()) return described_image(name);  // names the valid ones
  std::optional<Image> img = image_from_elf(name, path, "", touches_for);
  if (!img) return described_image(name);
  set_process(*img);
  return *img;
}

std::vector<std::string> builtin_image_names() {
  return {"tiny-static", "lmbench-hello", "sh"};
}

}  // namespace pib::guest
