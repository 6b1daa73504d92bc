// SPDX-License-Identifier: MIT
#include "guest/elf.hpp"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "common/error.hpp"

namespace pib::guest {

namespace {
constexpr uint64_t kPage = 4096;

class Reader {
 public:
  Reader(const std::vector<uint8_t>& bytes, const std::string& file) : b_(bytes), file_(file) {}
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(file_ + ": bad ELF file: " + what);
  }
  // A struct at `off`, after checking that it lies inside the file.
  template <typename T>
  T at(uint64_t off, const char* what) const {
    if (off > b_.size() || b_.size() - off < sizeof(T)) fail(std::string(what) + " beyond the end");
    T v;
    std::memcpy(&v, b_.data() + off, sizeof(T));
    return v;
  }
  std::string string_at(uint64_t off, uint64_t limit, const char* what) const {
    if (off >= b_.size() || off >= limit) fail(std::string(what) + " outside the file");
    const uint64_t end = std::min<uint64_t>(b_.size(), limit);
    const auto* p = b_.data() + off;
    const auto* nul = std::find(p, b_.data() + end, uint8_t{0});
    if (nul == b_.data() + end) fail(std::string(what) + " is not terminated");
    return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(nul - p));
  }
  uint64_t size() const { return b_.size(); }

 private:
  const std::vector<uint8_t>& b_;
  const std::string& file_;
};

// The file offset of virtual address `va` through the PT_LOADs (for DT_STRTAB).
std::optional<uint64_t> file_offset(const std::vector<ElfLoad>& loads, uint64_t va) {
  for (const ElfLoad& l : loads) {
    if (va >= l.vaddr && va - l.vaddr < l.filesz) return l.offset + (va - l.vaddr);
  }
  return std::nullopt;
}

void read_dynamic(const Reader& r, const Elf64_Phdr& dyn, ElfInfo& info) {
  if (dyn.p_filesz / sizeof(Elf64_Dyn) > kElfMaxDynamic) r.fail("too many dynamic entries");
  std::vector<uint64_t> needed_offsets;
  std::optional<uint64_t> strtab;
  uint64_t strsz = 0;
  for (uint64_t i = 0; i < dyn.p_filesz / sizeof(Elf64_Dyn); ++i) {
    const auto d = r.at<Elf64_Dyn>(dyn.p_offset + i * sizeof(Elf64_Dyn), "dynamic entry");
    if (d.d_tag == DT_NULL) break;
    if (d.d_tag == DT_NEEDED) needed_offsets.push_back(d.d_un.d_val);
    if (d.d_tag == DT_STRTAB) strtab = d.d_un.d_ptr;
    if (d.d_tag == DT_STRSZ) strsz = d.d_un.d_val;
  }
  if (needed_offsets.empty()) return;
  if (!strtab) r.fail("DT_NEEDED without DT_STRTAB");
  const auto base = file_offset(info.loads, *strtab);
  if (!base) r.fail("DT_STRTAB outside every PT_LOAD");
  if (strsz > r.size()) r.fail("DT_STRSZ beyond the end");
  for (const uint64_t off : needed_offsets) {
    if (off >= strsz) r.fail("DT_NEEDED name outside DT_STRTAB");
    info.needed.push_back(r.string_at(*base + off, *base + strsz, "DT_NEEDED name"));
  }
}
}  // namespace

ElfInfo parse_elf(const std::vector<uint8_t>& bytes, const std::string& file) {
  const Reader r(bytes, file);
  const auto eh = r.at<Elf64_Ehdr>(0, "ELF header");
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) r.fail("no ELF magic");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64) r.fail("not a 64-bit ELF file");
  if (eh.e_ident[EI_DATA] != ELFDATA2LSB) r.fail("not little-endian");
  if (eh.e_machine != EM_X86_64)
    r.fail("not an x86-64 file (e_machine " + std::to_string(eh.e_machine) + ")");
  if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) r.fail("neither ET_EXEC nor ET_DYN");
  if (eh.e_phentsize != sizeof(Elf64_Phdr)) r.fail("e_phentsize is not sizeof(Elf64_Phdr)");
  if (eh.e_phnum == 0 || eh.e_phnum > kElfMaxPhdrs) {
    r.fail("e_phnum " + std::to_string(eh.e_phnum) + " outside 1.." + std::to_string(kElfMaxPhdrs));
  }
  ElfInfo info;
  info.dyn = eh.e_type == ET_DYN;
  info.entry = eh.e_entry;
  info.file_size = bytes.size();
  std::optional<Elf64_Phdr> dynamic;
  for (uint64_t i = 0; i < eh.e_phnum; ++i) {
    const auto ph = r.at<Elf64_Phdr>(eh.e_phoff + i * sizeof(Elf64_Phdr), "program header");
    if (ph.p_type == PT_LOAD) {
      if (info.loads.size() == kElfMaxLoads) r.fail("more than 16 PT_LOAD segments");
      if (ph.p_filesz > ph.p_memsz) r.fail("PT_LOAD with p_filesz above p_memsz");
      if (ph.p_offset > bytes.size() || bytes.size() - ph.p_offset < ph.p_filesz) {
        r.fail("PT_LOAD file part beyond the end of the file");
      }
      if ((ph.p_vaddr - ph.p_offset) % kPage != 0)
        r.fail("PT_LOAD offset and address differ mod the page");
      if (ph.p_vaddr + ph.p_memsz < ph.p_vaddr || ph.p_vaddr + ph.p_memsz > (uint64_t{1} << 47)) {
        r.fail("PT_LOAD beyond the user address space");
      }
      if (!info.loads.empty() && ph.p_vaddr < info.loads.back().vaddr + info.loads.back().memsz) {
        r.fail("PT_LOAD segments overlap or are out of order");
      }
      info.loads.push_back({ph.p_offset, ph.p_vaddr, ph.p_filesz, ph.p_memsz, ph.p_flags});
    } else if (ph.p_type == PT_INTERP) {
      if (ph.p_filesz == 0 || ph.p_filesz > 4096) r.fail("PT_INTERP size");
      info.interp = r.string_at(ph.p_offset, ph.p_offset + ph.p_filesz, "PT_INTERP");
    } else if (ph.p_type == PT_GNU_RELRO) {
      info.relro_vaddr = ph.p_vaddr;
      info.relro_memsz = ph.p_memsz;
    } else if (ph.p_type == PT_DYNAMIC) {
      dynamic = ph;
    }
  }
  if (info.loads.empty()) r.fail("no PT_LOAD segment");
  if (dynamic) read_dynamic(r, *dynamic, info);
  return info;
}

std::optional<ElfInfo> read_elf(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return std::nullopt;
  const std::streamoff size = in.tellg();
  if (size < 0 || static_cast<uint64_t>(size) > kElfMaxFileBytes) {
    throw InputError(path + ": bad ELF file: larger than 1 GiB");
  }
  std::vector<uint8_t> bytes(static_cast<std::size_t>(size));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), size))
    throw InputError(path + ": unreadable");
  return parse_elf(bytes, path);
}

}  // namespace pib::guest
