// SPDX-License-Identifier: MIT
// A small ELF64 (x86-64, little-endian) reader: what binfmt_elf and ld.so take from a file to
// map it — the type (ET_EXEC or ET_DYN), the entry point, the PT_LOAD segments, PT_INTERP,
// PT_GNU_RELRO and the DT_NEEDED names of PT_DYNAMIC. Every offset and count is checked against
// the file and against limits before anything is allocated; a bad file is an InputError naming
// the file and what is wrong.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pib::guest {

struct ElfLoad {
  uint64_t offset = 0;
  uint64_t vaddr = 0;
  uint64_t filesz = 0;
  uint64_t memsz = 0;
  uint32_t flags = 0;  // PF_R/PF_W/PF_X
};

struct ElfInfo {
  bool dyn = false;  // ET_DYN (PIE or shared object); else ET_EXEC
  uint64_t entry = 0;
  uint64_t file_size = 0;
  std::vector<ElfLoad> loads;  // in address order
  std::string interp;          // PT_INTERP, empty when static
  uint64_t relro_vaddr = 0;    // PT_GNU_RELRO (memsz 0: none)
  uint64_t relro_memsz = 0;
  std::vector<std::string> needed;  // DT_NEEDED, in order
};

// Limits (a real binary is far below each): the file size, program headers, dynamic entries.
inline constexpr uint64_t kElfMaxFileBytes = uint64_t{1} << 30;
inline constexpr uint64_t kElfMaxPhdrs = 128;
inline constexpr uint64_t kElfMaxLoads = 16;
inline constexpr uint64_t kElfMaxDynamic = 4096;

ElfInfo parse_elf(const std::vector<uint8_t>& bytes, const std::string& file);
// Reads and parses `path`; nullopt when there is no such file.
std::optional<ElfInfo> read_elf(const std::string& path);

}  // namespace pib::guest
