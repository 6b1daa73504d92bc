// SPDX-License-Identifier: MIT
// Does the ELF reader take what binfmt_elf and ld.so take from a file, and refuse a bad file
// with an error naming it and the problem?
#include "guest/elf.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "common/error.hpp"
#include "guest/elf_image.hpp"
#include "guest/image.hpp"

namespace pib {
namespace {

std::vector<uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    guest::parse_elf(bytes, "t.elf");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Elf, TinyHasThreeOnePageSegmentsAndNoBss) {
  const guest::Image img = guest::builtin_image("tiny-static");
  ASSERT_EQ(img.program.segments.size(), 3u);
  for (const auto& s : img.program.segments) EXPECT_EQ(s.pages, 1u);
  EXPECT_EQ(img.program.link_address, 0x400000u);
  EXPECT_FALSE(img.interpreter);
  EXPECT_FALSE(img.program.zero_fill_page);
}

TEST(Elf, DashNeedsItsLoaderAndLibc) {
  if (!std::ifstream("/bin/dash")) GTEST_SKIP() << "no /bin/dash here";
  const guest::Image img = guest::builtin_image("sh");
  EXPECT_TRUE(img.pie);
  ASSERT_TRUE(img.interpreter);
  EXPECT_EQ(img.interpreter->file, "ld-linux-x86-64.so.2");
  ASSERT_EQ(img.libraries.size(), 1u);
  EXPECT_EQ(img.libraries[0].file, "libc.so.6");
  EXPECT_GT(img.libraries[0].relro_pages, 0u);
  // dash's RW segment: file part then an anonymous bss, its last file page zeroed at load.
  EXPECT_FALSE(img.program.segments.back().file_backed);
  EXPECT_TRUE(img.program.zero_fill_page);
}

TEST(Elf, BadFilesNameTheFileAndTheProblem) {
  const std::vector<uint8_t> good = file_bytes(std::string(PIB_ELF_DIR) + "/tiny");
  ASSERT_GT(good.size(), 64u);
  EXPECT_EQ(error_of({}), "t.elf: bad ELF file: ELF header beyond the end");
  std::vector<uint8_t> bad = good;
  bad[0] = 0;
  EXPECT_EQ(error_of(bad), "t.elf: bad ELF file: no ELF magic");
  bad = std::vector<uint8_t>(good.begin(), good.begin() + 64);  // headers cut off
  EXPECT_EQ(error_of(bad), "t.elf: bad ELF file: program header beyond the end");
  bad = good;
  const uint16_t many = 60000;
  std::memcpy(bad.data() + 56, &many, sizeof many);  // e_phnum
  EXPECT_EQ(error_of(bad), "t.elf: bad ELF file: e_phnum 60000 outside 1..128");
}

}  // namespace
}  // namespace pib
