// SPDX-License-Identifier: MIT
// Process images from ELF files: the program's PT_LOADs as the kernel's elf_map lays them out
// (file part page-aligned from the segment's address, the bss beyond the last file page
// anonymous, the partly-filled last file page zeroed), PT_INTERP's loader parsed from its own
// file, DT_NEEDED libraries found in Debian's library directories breadth-first, as ld.so
// loads them, and PT_GNU_RELRO rounded as ld.so rounds it.
//
// Start-up touches (which pages a program faults in before its own work) are a rule over the
// real segments, with counts per object kept from the built-in descriptions they replace:
//   - code: `text` pages from the page of the entry point (libraries: from their first code page);
//   - read-only data: the first `ro` pages of each read-only segment (ELF and program headers,
//     symbol tables and strings the loader and libc start-up read, rodata);
//   - writable data: every file-backed page written (relocations, .data initialisation; the
//     RELRO part is written before it is made read-only);
//   - bss: the first `bss` pages written.
#pragma once

#include <string>
#include <vector>

#include "guest/elf.hpp"
#include "guest/image.hpp"

namespace pib::guest {

struct StartupTouches {
  uint64_t text = 16;
  uint64_t ro = 6;
  uint64_t bss = 2;
};

// One object's segments from its parsed headers; `file` names its page-cache file.
ElfObject elf_object(const ElfInfo& info, const std::string& file, const StartupTouches& touches,
                     bool is_program);

// Where ld.so looks for a DT_NEEDED name (without an ld.so.cache): Debian's multiarch
// directories, then the plain ones.
std::vector<std::string> library_directories();

// The whole image of the program at `path` (its interpreter and libraries resolved under
// `root`, "" for this machine); nullopt when `path` does not exist. Touch counts per object
// come from `touches_for(file name)`.
std::optional<Image> image_from_elf(const std::string& name, const std::string& path,
                                    const std::string& root,
                                    StartupTouches (*touches_for)(const std::string& file));

}  // namespace pib::guest
