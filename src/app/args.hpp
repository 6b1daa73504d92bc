// SPDX-License-Identifier: MIT
// Small helpers the subcommands share for their options: numbers and comma lists, with errors
// that name the option.
#pragma once

#include <charconv>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace pib::app {

// An option that sets one scenario key ("--vcpus" sets "machine.vcpus").
struct KeyFlag {
  const char* flag;
  const char* key;
};
// The key `flag` sets, or nullptr when it is none of `flags`.
inline const char* key_of_flag(std::span<const KeyFlag> flags, const std::string& flag) {
  for (const KeyFlag& k : flags) {
    if (flag == k.flag) return k.key;
  }
  return nullptr;
}

// A non-negative integer option value; InputError naming `flag` otherwise.
inline uint64_t parse_u64(const std::string& flag, const std::string& v) {
  uint64_t out = 0;
  const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || ptr != v.data() + v.size()) {
    throw InputError(flag + " expects a non-negative integer, got '" + v + "'");
  }
  return out;
}

// A positive finite option value (at most 1e12); InputError naming `flag` otherwise.
inline double parse_positive_double(const std::string& flag, const std::string& v) {
  std::size_t used = 0;
  double d = 0;
  try {
    d = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || !(d > 0) || d > 1e12) {
    throw InputError(flag + ": expected a positive number, got '" + v + "'");
  }
  return d;
}

inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

}  // namespace pib::app
