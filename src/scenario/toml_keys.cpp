// SPDX-License-Identifier: MIT
#include "scenario/toml_keys.hpp"

#include <charconv>

#include "cost/toml_text.hpp"

namespace pib::scenario {

TomlValue::TomlValue(const toml::node& node, const std::string& origin, std::string key)
    : node_(&node), origin_(origin), where_(toml_where(origin, node)), key_(std::move(key)) {}

TomlValue::TomlValue(std::string text, std::string where, std::string key)
    : text_(std::move(text)), where_(std::move(where)), key_(std::move(key)) {}

void TomlValue::fail(const std::string& what) const {
  throw InputError(where_ + ": " + key_ + what);
}

uint64_t TomlValue::integer_in(uint64_t lo, uint64_t hi) const {
  std::optional<int64_t> v;
  if (text_) {
    int64_t parsed = 0;
    const auto [ptr, ec] = std::from_chars(text_->data(), text_->data() + text_->size(), parsed);
    if (ec == std::errc() && ptr == text_->data() + text_->size()) v = parsed;
  } else if (node_->is_integer()) {
    v = node_->value<int64_t>();
  }
  if (!v || *v < 0 || static_cast<uint64_t>(*v) < lo || static_cast<uint64_t>(*v) > hi) {
    fail(" must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  return static_cast<uint64_t>(*v);
}

double TomlValue::number_in(double lo, double hi) const {
  std::optional<double> v;
  if (text_) {
    double parsed = 0;
    const auto [ptr, ec] = std::from_chars(text_->data(), text_->data() + text_->size(), parsed);
    if (ec == std::errc() && ptr == text_->data() + text_->size()) v = parsed;
  } else if (node_->is_number()) {
    v = node_->value<double>();
  }
  if (!v) fail(" must be a number");
  if (!(*v >= lo && *v <= hi))
    fail(" must be a number in " + toml_number(lo) + ".." + toml_number(hi));
  return *v;
}

bool TomlValue::boolean() const {
  if (text_ && (*text_ == "true" || *text_ == "false")) return *text_ == "true";
  if (node_ != nullptr && node_->is_boolean()) return node_->as_boolean()->get();
  fail(" must be true or false");
}

std::string TomlValue::string() const {
  if (text_) return *text_;
  if (!node_->is_string()) fail(" must be a string");
  return node_->as_string()->get();
}

std::string TomlValue::name() const {
  if (node_ != nullptr && node_->is_integer()) return std::to_string(*node_->value<int64_t>());
  return string();
}

std::string TomlValue::where_of(const toml::node& inner) const {
  return text_ ? where_ : toml_where(origin_, inner);
}

const toml::table& TomlValue::table() const {
  if (node_ == nullptr || !node_->is_table()) fail(" must be a table");
  return *node_->as_table();
}

std::string toml_where(const std::string& origin, const toml::node& node) {
  return origin + ":" + std::to_string(node.source().begin.line);
}

std::string toml_string(const std::string& s) {
  return cost::toml_quoted(s);
}

std::string toml_number(double d) {
  char buf[64];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, d);  // the shortest exact form
  return std::string(buf, ptr);
}

}  // namespace pib::scenario
