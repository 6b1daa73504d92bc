// SPDX-License-Identifier: MIT
#include "scenario/scenario.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>

#include "common/error.hpp"
#include "common/text_file.hpp"
#include "policies/policy_table.hpp"
#include "scenario/sections.hpp"

namespace pib::scenario {

namespace {

// One section of the file and the part of the scenario it configures: the list below drives
// parsing, writing and setting single keys alike.
struct SectionSlot {
  std::string_view name;
  bool required;
  std::function<void(const toml::table&, const std::string&, Scenario&)> read;
  std::function<std::string(const Scenario&)> write;
  std::function<void(std::string_view, const std::string&, const std::string&, Scenario&)> set;
};

template <typename T, typename Part>
SectionSlot slot(const TomlSection<T>& section, Part part, bool required = false) {
  return {section.name, required,
          [&section, part](const toml::table& t, const std::string& origin, Scenario& s) {
            section.read(t, origin, part(s));
          },
          [&section, part](const Scenario& s) { return section.write(part(s)); },
          [&section, part](std::string_view key, const std::string& text, const std::string& where,
                           Scenario& s) { section.set(key, text, where, part(s)); }};
}

const std::vector<SectionSlot>& slots() {
  static const std::vector<SectionSlot> all = {
      slot(
          scenario_section(), [](auto& s) -> auto& { return s; }, /*required=*/true),
      slot(
          machine_section(), [](auto& s) -> auto& { return s.system; }),
      slot(
          xen_section(), [](auto& s) -> auto& { return s.system; }),
      slot(
          guest_section(), [](auto& s) -> auto& { return s.system; }),
      slot(
          workload_section(), [](auto& s) -> auto& { return s.workload; }, /*required=*/true),
      slot(
          pibooster_section(), [](auto& s) -> auto& { return s.system.ptcache; }),
      slot(
          paper_section(), [](auto& s) -> auto& { return s.paper; }),
  };
  return all;
}

constexpr std::string_view kPolicies = "policies";

toml::table parse_document(const std::string& text, const std::string& origin) {
  try {
    return toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    throw InputError(origin + ":" + std::to_string(e.source().begin.line) + ": " +
                     std::string(e.description()));
  }
}

void check_top_level(const toml::table& doc, const std::string& origin) {
  std::string valid(kPolicies);
  for (const auto& s : slots()) valid += ", " + std::string(s.name);
  for (const auto& [k, v] : doc) {
    bool known = k.str() == kPolicies;
    for (const auto& s : slots()) known = known || k.str() == s.name;
    if (!known) {
      throw InputError(toml_where(origin, v) + ": unknown section or key '" + std::string(k.str()) +
                       "' (valid: " + valid + ")");
    }
  }
}

// policies = ["baseline", ...]: a non-empty array of names the policy catalog knows.
void read_policies(const toml::table& doc, const std::string& origin, Scenario& s) {
  const toml::node* p = doc.get(kPolicies);
  if (p == nullptr) return;
  const toml::array* arr = p->as_array();
  if (arr == nullptr || arr->empty()) {
    throw InputError(toml_where(origin, *p) + ": policies must be a non-empty array of names");
  }
  s.policies.clear();
  for (const auto& el : *arr) {
    if (!el.is_string()) throw InputError(toml_where(origin, el) + ": policy names are strings");
    const std::string& name = el.as_string()->get();
    try {
      check_policies({name});
    } catch (const InputError& e) {
      throw InputError(toml_where(origin, el) + ": " + e.what());
    }
    if (std::find(s.policies.begin(), s.policies.end(), name) != s.policies.end()) {
      throw InputError(toml_where(origin, el) + ": policy '" + name + "' is listed twice");
    }
    s.policies.push_back(name);
  }
}

void read_sections(const toml::table& doc, const std::string& origin, Scenario& s) {
  for (const auto& slot : slots()) {
    const toml::node* n = doc.get(slot.name);
    if (n == nullptr) {
      if (slot.required) {
        throw InputError(origin + ": missing [" + std::string(slot.name) + "] with a name");
      }
      continue;
    }
    if (!n->is_table()) {
      throw InputError(toml_where(origin, *n) + ": [" + std::string(slot.name) +
                       "] must be a table");
    }
    slot.read(*n->as_table(), origin, s);
  }
}

}  // namespace

void check_policies(const std::vector<std::string>& policies) {
  for (std::size_t i = 0; i < policies.size(); ++i) {
    policies::find_policy(policies[i]);  // refuses an unknown name
    if (std::find(policies.begin(), policies.begin() + static_cast<std::ptrdiff_t>(i),
                  policies[i]) != policies.begin() + static_cast<std::ptrdiff_t>(i)) {
      throw InputError("policy '" + policies[i] + "' is listed twice");
    }
  }
}

Scenario Scenario::parse(const std::string& text, const std::string& origin) {
  const toml::table doc = parse_document(text, origin);
  check_top_level(doc, origin);
  Scenario s;
  s.origin = origin;
  read_sections(doc, origin, s);
  read_policies(doc, origin, s);
  return s;
}

Scenario Scenario::load(const std::string& path) {
  return parse(read_text_file(path, "scenario"), path);
}

std::string Scenario::to_toml() const {
  std::string pol;
  for (const auto& p : policies) pol += (pol.empty() ? "" : ", ") + toml_string(p);
  // Top-level keys come before the first table.
  std::string out =
      "# Resolved scenario (from " + origin + ")\n" + std::string(kPolicies) + " = [" + pol + "]\n";
  for (const auto& slot : slots()) {
    const std::string section = slot.write(*this);
    if (!section.empty()) out += "\n" + section;
  }
  return out;
}

void Scenario::set(std::string_view dotted_key, const std::string& text, const std::string& where) {
  // A workload parameter is one entry of the [workload.params] table, checked by the workload.
  constexpr std::string_view kParams = "workload.params.";
  if (dotted_key.starts_with(kParams) && dotted_key.size() > kParams.size()) {
    workload.params.set(std::string(dotted_key.substr(kParams.size())), text);
    workload_section().recheck(where, workload);
    return;
  }
  const auto dot = dotted_key.find('.');
  const std::string_view section = dotted_key.substr(0, dot);
  std::string valid;
  for (const auto& slot : slots()) {
    if (slot.name == section && dot != std::string_view::npos) {
      slot.set(dotted_key.substr(dot + 1), text, where, *this);
      return;
    }
    valid += (valid.empty() ? "" : ", ") + std::string(slot.name) + ".KEY";
  }
  throw InputError(where + ": unknown scenario key '" + std::string(dotted_key) +
                   "' (valid: " + valid + ", workload.params.NAME)");
}

Scenario find_scenario(const std::string& name_or_path) {
  for (const auto& b : builtin_scenarios()) {
    if (b.name == name_or_path) return Scenario::parse(b.text, "built-in:" + b.name);
  }
  if (name_or_path.find('/') != std::string::npos || name_or_path.ends_with(".toml")) {
    return Scenario::load(name_or_path);
  }
  std::string valid;
  for (const auto& b : builtin_scenarios()) valid += (valid.empty() ? "" : ", ") + b.name;
  throw InputError("no scenario '" + name_or_path + "' (built-in: " + valid +
                   "; or give a path to a .toml file)");
}

}  // namespace pib::scenario
