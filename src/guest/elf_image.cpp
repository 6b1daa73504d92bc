// SPDX-License-Identifier: MIT
#include "guest/elf_image.hpp"

#include <elf.h>

#include <set>

#include "common/error.hpp"
#include "guest/mm_types.hpp"

namespace pib::guest {

namespace {
constexpr uint64_t page_down(uint64_t v) {
  return v & ~(kPageSize - 1);
}
constexpr uint64_t page_up(uint64_t v) {
  return (v + kPageSize - 1) & ~(kPageSize - 1);
}
uint32_t prot_of(uint32_t flags) {
  return ((flags & PF_R) ? prot::kRead : 0) | ((flags & PF_W) ? prot::kWrite : 0) |
         ((flags & PF_X) ? prot::kExec : 0);
}
std::string role_of(uint32_t flags) {
  if (flags & PF_X) return "text";
  if (flags & PF_W) return "data";
  return "rodata";
}
std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
}  // namespace

ElfObject elf_object(const ElfInfo& info, const std::string& file, const StartupTouches& touches,
                     bool is_program) {
  ElfObject obj;
  obj.file = file;
  obj.file_pages = page_up(info.file_size) >> kPageShift;
  const uint64_t first = page_down(info.loads.front().vaddr);
  obj.link_address = info.dyn ? 0 : first;
  bool first_code = true;
  for (std::size_t i = 0; i < info.loads.size(); ++i) {
    const ElfLoad& l = info.loads[i];
    const std::string name = "load" + std::to_string(i) + "." + role_of(l.flags);
    uint64_t start = page_down(l.vaddr);
    const uint64_t file_end = page_up(l.vaddr + l.filesz);
    const uint64_t mem_end = page_up(l.vaddr + l.memsz);
    // A page two segments share belongs to the later one (its MAP_FIXED mapping replaces it).
    if (!obj.segments.empty()) {
      Segment& prev = obj.segments.back();
      const uint64_t prev_end = first + (prev.start_page + prev.pages) * kPageSize;
      if (start < prev_end) prev.pages -= (prev_end - start) >> kPageShift;
    }
    if (l.filesz != 0) {
      Segment s;
      s.name = name;
      s.start_page = (start - first) >> kPageShift;
      s.pages = (file_end - start) >> kPageShift;
      s.prot = prot_of(l.flags);
      s.file_backed = true;
      s.file_page = page_down(l.offset) >> kPageShift;
      if (l.flags & PF_X) {
        const bool entry_here = is_program && info.entry >= start && info.entry < file_end;
        s.touch_first = entry_here ? (page_down(info.entry) - start) >> kPageShift : 0;
        s.touch_pages = (entry_here || (!is_program && first_code)) ? touches.text : 0;
        first_code = false;
      } else if (l.flags & PF_W) {
        s.touch_pages = s.pages;
        s.touch_write = true;
      } else {
        s.touch_pages = touches.ro;
      }
      obj.segments.push_back(s);
      start = file_end;
    }
    if (mem_end > start) {
      Segment bss;
      bss.name = name + ".bss";
      bss.start_page = (start - first) >> kPageShift;
      bss.pages = (mem_end - start) >> kPageShift;
      bss.prot = prot_of(l.flags);
      bss.file_backed = false;
      bss.touch_pages = touches.bss;
      bss.touch_write = true;
      obj.segments.push_back(bss);
    }
    if (l.memsz > l.filesz && l.filesz != 0 && (l.vaddr + l.filesz) % kPageSize != 0) {
      obj.zero_fill_page = (page_down(l.vaddr + l.filesz) - first) >> kPageShift;
    }
  }
  // _dl_protect_relro rounds both ends down.
  if (info.relro_memsz != 0) {
    const uint64_t rs = page_down(info.relro_vaddr);
    const uint64_t re = page_down(info.relro_vaddr + info.relro_memsz);
    if (re > rs && rs >= first) {
      obj.relro_start_page = (rs - first) >> kPageShift;
      obj.relro_pages = (re - rs) >> kPageShift;
    }
  }
  return obj;
}

std::vector<std::string> library_directories() {
  return {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/lib", "/usr/lib"};
}

std::optional<Image> image_from_elf(const std::string& name, const std::string& path,
                                    const std::string& root,
                                    StartupTouches (*touches_for)(const std::string& file)) {
  const std::optional<ElfInfo> prog = read_elf(path);
  if (!prog) return std::nullopt;
  Image img;
  img.name = name;
  img.pie = prog->dyn;
  img.program = elf_object(*prog, base_name(path), touches_for(base_name(path)), true);
  if (prog->interp.empty()) return img;
  const std::string interp_name = base_name(prog->interp);
  const std::optional<ElfInfo> interp = read_elf(root + prog->interp);
  if (!interp) throw InputError(path + ": its interpreter " + root + prog->interp + " is missing");
  img.interpreter = elf_object(*interp, interp_name, touches_for(interp_name), false);
  // Breadth-first over DT_NEEDED, each name once; the interpreter is already there.
  std::set<std::string> seen{interp_name};
  std::vector<std::string> queue = prog->needed;
  for (std::size_t i = 0; i < queue.size(); ++i) {
    const std::string lib = queue[i];
    if (!seen.insert(lib).second) continue;
    std::optional<ElfInfo> info;
    for (const std::string& dir : library_directories()) {
      info = read_elf(root + dir + "/" + lib);
      if (info) break;
    }
    if (!info) throw InputError(path + ": needed library " + lib + " not found");
    if (seen.size() > 64) throw InputError(path + ": more than 64 libraries needed");
    img.libraries.push_back(elf_object(*info, lib, touches_for(lib), false));
    for (const std::string& n : info->needed) queue.push_back(n);
  }
  return img;
}

}  // namespace pib::guest
