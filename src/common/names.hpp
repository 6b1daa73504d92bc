// SPDX-License-Identifier: MIT
// One table of names per enum, declared next to the enum: every place that prints or reads the
// enum (scenario files, the CLI, JSON, tables, traces) goes through it, so each name is spelled
// once and an unknown name is refused with the list of the valid ones.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace pib {

template <typename E>
struct EnumName {
  E value;
  std::string_view name;
};

template <typename E, std::size_t N>
struct NameTable {
  std::string_view what;  // what the names name, for errors: "Xen generation"
  std::array<EnumName<E>, N> rows;

  // The first row's name for `value` (later rows may be aliases); "?" if the table lacks it.
  constexpr std::string_view name_of(E value) const {
    for (const auto& r : rows) {
      if (r.value == value) return r.name;
    }
    return "?";
  }
  constexpr std::optional<E> find(std::string_view name) const {
    for (const auto& r : rows) {
      if (r.name == name) return r.value;
    }
    return std::nullopt;
  }
  // "a, b, c", in table order.
  std::string valid_names() const {
    std::string out;
    for (const auto& r : rows) out += (out.empty() ? "" : ", ") + std::string(r.name);
    return out;
  }
  // The value called `name`; InputError "unknown WHAT 'name' (valid: ...)" otherwise.
  E by_name(std::string_view name) const {
    if (const auto v = find(name)) return *v;
    throw InputError("unknown " + std::string(what) + " '" + std::string(name) +
                     "' (valid: " + valid_names() + ")");
  }
};

// Spelled with its row count deduced: make_names<E>("what", {{E::kA, "a"}, ...}).
template <typename E, std::size_t N>
constexpr NameTable<E, N> make_names(std::string_view what, const EnumName<E> (&rows)[N]) {
  NameTable<E, N> t{what, {}};
  for (std::size_t i = 0; i < N; ++i) t.rows[i] = rows[i];
  return t;
}

}  // namespace pib
