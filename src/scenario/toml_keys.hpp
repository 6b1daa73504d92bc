// SPDX-License-Identifier: MIT
// A scenario file's sections as tables of keys. Each key knows how to read its value into the
// struct it configures and how to write it back as TOML text, so the resolved scenario written
// with every run comes from the same table that parses it; a CLI flag sets a key through the
// same table, with the same checks.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/names.hpp"

namespace pib::scenario {

// One value being read, from a file (a TOML node) or from the command line (text), with where
// it came from ("file:line", "--vcpus") and its dotted key, so every error names both.
class TomlValue {
 public:
  TomlValue(const toml::node& node, const std::string& origin, std::string key);
  TomlValue(std::string text, std::string where, std::string key);

  uint64_t integer_in(uint64_t lo, uint64_t hi) const;
  double number_in(double lo, double hi) const;
  bool boolean() const;
  std::string string() const;
  // A name: a string as it is, an integer in decimal (`linux = 4`).
  std::string name() const;
  const toml::table& table() const;
  [[noreturn]] void fail(const std::string& what) const;  // "WHERE: KEY WHAT"
  const std::string& where() const { return where_; }
  // "file:line" of a node inside this value (an entry of a table).
  std::string where_of(const toml::node& inner) const;

 private:
  const toml::node* node_ = nullptr;
  std::optional<std::string> text_;
  std::string origin_;
  std::string where_;
  std::string key_;
};

// "file:line" of a node.
std::string toml_where(const std::string& origin, const toml::node& node);
// TOML text of values.
std::string toml_string(const std::string& s);
std::string toml_number(double d);

template <typename T>
struct TomlKey {
  std::string_view name;
  std::function<void(const TomlValue&, T&)> read;
  // The value as TOML text; nullopt leaves the key out (an optional value that is unset). A
  // `subtable` key writes "k = v" lines, put under [section.name] after the section's keys.
  std::function<std::optional<std::string>(const T&)> write;
  bool required = false;
  bool subtable = false;
};

template <typename T>
struct TomlSection {
  std::string_view name;
  std::vector<TomlKey<T>> keys;
  // A rule across keys, checked after reading them: what is wrong, or empty.
  std::function<std::string(const T&)> check = {};

  std::string valid_keys() const {
    std::string out;
    for (const auto& k : keys) out += (out.empty() ? "" : ", ") + std::string(k.name);
    return out;
  }
  std::string dotted(std::string_view key) const { return std::string(name) + "." += key; }

  void read(const toml::table& table, const std::string& origin, T& into) const {
    for (const auto& [k, v] : table) {
      if (find(k.str()) == nullptr) {
        throw InputError(toml_where(origin, v) + ": unknown key " + dotted(k.str()) +
                         " (valid: " + valid_keys() + ")");
      }
    }
    for (const auto& key : keys) {
      if (const toml::node* n = table.get(key.name)) {
        key.read(TomlValue(*n, origin, dotted(key.name)), into);
      } else if (key.required) {
        throw InputError(toml_where(origin, table) + ": missing " + dotted(key.name));
      }
    }
    if (check) {
      const std::string wrong = check(into);
      if (!wrong.empty()) throw InputError(toml_where(origin, table) + ": " + wrong);
    }
  }

  // One key from outside a file (a command-line flag, a sweep's axis), with the same checks;
  // an unknown key, or a table's key given one value, is an InputError naming `where`.
  void set(std::string_view key, const std::string& text, const std::string& where, T& into) const {
    const TomlKey<T>* k = find(key);
    if (k == nullptr || k->subtable) {
      throw InputError(where + ": unknown key " + dotted(key) + " (valid: " + valid_keys() + ")");
    }
    k->read(TomlValue(text, where, dotted(key)), into);
    recheck(where, into);
  }
  // The rule across keys, after a change made outside read() and set().
  void recheck(const std::string& where, const T& into) const {
    if (check) {
      const std::string wrong = check(into);
      if (!wrong.empty()) throw InputError(where + ": " + wrong);
    }
  }

  // "[name]\nkey = value\n..."; empty when no key has a value to write.
  std::string write(const T& from) const {
    std::string plain, tables;
    for (const auto& key : keys) {
      const std::optional<std::string> v = key.write(from);
      if (!v) continue;
      if (key.subtable) {
        tables += "\n[" + dotted(key.name) + "]\n" + *v;
      } else {
        plain += std::string(key.name) + " = " + *v + "\n";
      }
    }
    if (plain.empty() && tables.empty()) return "";
    return "[" + std::string(name) + "]\n" + plain + tables;
  }

 private:
  const TomlKey<T>* find(std::string_view key) const {
    for (const auto& k : keys) {
      if (k.name == key) return &k;
    }
    return nullptr;
  }
};

// Keys over a field of T, reached by `field(T&)` — a generic lambda such as
// [](auto& c) -> auto& { return c.vcpus; } serves reading and writing.
template <typename T, typename Field>
TomlKey<T> integer_key(std::string_view name, uint64_t lo, uint64_t hi, Field field) {
  return {name,
          [=](const TomlValue& v, T& t) {
            auto& f = field(t);
            f = static_cast<std::remove_reference_t<decltype(f)>>(v.integer_in(lo, hi));
          },
          [=](const T& t) -> std::optional<std::string> { return std::to_string(field(t)); }};
}

template <typename T, typename Field>
TomlKey<T> number_key(std::string_view name, double lo, double hi, Field field) {
  return {name, [=](const TomlValue& v, T& t) { field(t) = v.number_in(lo, hi); },
          [=](const T& t) -> std::optional<std::string> { return toml_number(field(t)); }};
}

// An optional number: left out when unset.
template <typename T, typename Field>
TomlKey<T> optional_number_key(std::string_view name, Field field) {
  return {name, [=](const TomlValue& v, T& t) { field(t) = v.number_in(-1e300, 1e300); },
          [=](const T& t) -> std::optional<std::string> {
            if (!field(t)) return std::nullopt;
            return toml_number(*field(t));
          }};
}

template <typename T, typename Field>
TomlKey<T> bool_key(std::string_view name, Field field) {
  return {name, [=](const TomlValue& v, T& t) { field(t) = v.boolean(); },
          [=](const T& t) -> std::optional<std::string> { return field(t) ? "true" : "false"; }};
}

// A string; `omit_empty` leaves it out when empty.
template <typename T, typename Field>
TomlKey<T> string_key(std::string_view name, Field field, bool required = false,
                      bool omit_empty = false) {
  return {name, [=](const TomlValue& v, T& t) { field(t) = v.string(); },
          [=](const T& t) -> std::optional<std::string> {
            if (omit_empty && field(t).empty()) return std::nullopt;
            return toml_string(field(t));
          },
          required};
}

// An enum by its name table; `bare` writes the name unquoted (names that are numbers).
template <typename T, typename E, std::size_t N, typename Field>
TomlKey<T> enum_key(std::string_view name, const NameTable<E, N>& names, Field field,
                    bool bare = false) {
  const NameTable<E, N>* table = &names;  // the tables are constants: they outlive the key
  return {name,
          [=](const TomlValue& v, T& t) {
            try {
              field(t) = table->by_name(v.name());
            } catch (const InputError& e) {
              v.fail(std::string(": ") + e.what());
            }
          },
          [=](const T& t) -> std::optional<std::string> {
            const std::string n(table->name_of(field(t)));
            return bare ? n : toml_string(n);
          }};
}

// The same, left out of the written file while the field holds `unset` (a key most files
// never name, such as a device that is off by default).
template <typename T, typename E, std::size_t N, typename Field>
TomlKey<T> optional_enum_key(std::string_view name, const NameTable<E, N>& names, E unset,
                             Field field) {
  TomlKey<T> key = enum_key<T>(name, names, field);
  auto write = key.write;
  key.write = [=](const T& t) -> std::optional<std::string> {
    if (field(t) == unset) return std::nullopt;
    return write(t);
  };
  return key;
}

}  // namespace pib::scenario
