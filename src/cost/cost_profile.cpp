// SPDX-License-Identifier: MIT
#include "cost/cost_profile.hpp"

#include <toml++/toml.h>

#include <charconv>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "common/error.hpp"
#include "common/text_file.hpp"
#include "cost/toml_text.hpp"

namespace pib::cost {

namespace {

std::string where(const std::string& origin, const toml::source_region& r) {
  return origin + ":" + std::to_string(r.begin.line);
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

}  // namespace

std::vector<std::string> CostProfile::work_event_names() {
  std::vector<std::string> out;
  for (const auto& e : sim::kEventTable) {
    if (e.cost == sim::Cost::kWork) out.emplace_back(e.name);
  }
  return out;
}

CostProfile CostProfile::load(const std::string& path) {
  return parse(read_text_file(path, "cost profile"), path);
}

CostProfile CostProfile::parse(const std::string& text, const std::string& origin) {
  toml::table doc;
  try {
    doc = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    throw InputError(where(origin, e.source()) + ": " + std::string(e.description()));
  }
  CostProfile p;
  p.origin_ = origin;
  for (const auto& [key, node] : doc) {
    if (key != "profile" && key != "costs") {
      throw InputError(where(origin, node.source()) + ": unknown section [" +
                       std::string(key.str()) + "] (valid: [profile], [costs])");
    }
  }
  const toml::table* head = doc["profile"].as_table();
  if (head == nullptr) throw InputError(origin + ": missing [profile] section with a name");
  for (const auto& [key, node] : *head) {
    if (key != "name" && key != "description") {
      throw InputError(where(origin, node.source()) + ": unknown key profile." +
                       std::string(key.str()) + " (valid: name, description)");
    }
  }
  p.name_ =
      head->get("name") && head->get("name")->is_string()
          ? head->get("name")->as_string()->get()
          : throw InputError(where(origin, head->source()) + ": profile.name must be a string");
  if (auto d = head->get("description"); d != nullptr) {
    if (!d->is_string())
      throw InputError(where(origin, d->source()) + ": profile.description must be a string");
    p.description_ = d->as_string()->get();
  }
  const toml::table* costs = doc["costs"].as_table();
  if (costs == nullptr) throw InputError(origin + ": missing [costs] section");
  for (const auto& [key, node] : *costs) {
    const std::string k(key.str());
    const auto ev = sim::event_by_name(k);
    if (!ev) {
      throw InputError(where(origin, node.source()) + ": unknown cost key '" + k +
                       "' (valid: " + join(work_event_names()) + ")");
    }
    if (sim::event_info(*ev).cost == sim::Cost::kTally) {
      throw InputError(where(origin, node.source()) + ": '" + k +
                       "' is a tally (its work is charged by other events) and takes no cost");
    }
    const toml::table* t = node.as_table();
    if (t == nullptr) {
      throw InputError(
          where(origin, node.source()) + ": '" + k +
          "' must be a table { ns = ..., mark = ..., uncertainty = ..., source = ... }");
    }
    UnitCost u;
    for (const auto& [field, value] : *t) {
      const std::string f(field.str());
      if (f == "ns") {
        if (auto d = value.value<double>(); d && *d >= 0 && *d <= kMaxUnitNs) {
          u.ns = *d;
        } else {
          throw InputError(where(origin, value.source()) + ": " + k +
                           ".ns must be a number from 0 to 1e9 (one second)");
        }
      } else if (f == "source" || f == "uncertainty" || f == "mark") {
        if (!value.is_string() || value.as_string()->get().empty()) {
          throw InputError(where(origin, value.source()) + ": " + k + "." + f +
                           " must be a non-empty string");
        }
        const std::string s = value.as_string()->get();
        if (f == "source") u.source = s;
        if (f == "uncertainty") u.uncertainty = s;
        if (f == "mark") {
          if (s.size() != 1 || std::string("VREM").find(s[0]) == std::string::npos) {
            throw InputError(where(origin, value.source()) + ": " + k +
                             ".mark must be V, R, E or M, got '" + s + "'");
          }
          u.mark = s[0];
        }
      } else {
        throw InputError(where(origin, value.source()) + ": unknown field " + k + "." + f +
                         " (valid: ns, mark, uncertainty, source)");
      }
    }
    for (const char* required : {"ns", "source", "uncertainty", "mark"}) {
      if (!t->contains(required)) {
        throw InputError(where(origin, node.source()) + ": " + k + " has no " + required +
                         " (every cost names its source, uncertainty and mark)");
      }
    }
    p.units_[static_cast<std::size_t>(*ev)] = u;
  }
  std::vector<std::string> missing;
  for (const auto& e : sim::kEventTable) {
    if (e.cost == sim::Cost::kWork && !p.units_[static_cast<std::size_t>(e.event)]) {
      missing.emplace_back(e.name);
    }
  }
  if (!missing.empty()) {
    throw InputError(origin + ": no cost for " + join(missing) + " (every work event needs one)");
  }
  return p;
}

const UnitCost& CostProfile::unit(sim::Event e) const {
  const auto& u = units_[static_cast<std::size_t>(e)];
  if (!u) {
    static const UnitCost kNone{};
    return kNone;  // tallies cost nothing
  }
  return *u;
}

void CostProfile::set(const std::string& key, const std::string& value) {
  const auto ev = sim::event_by_name(key);
  if (!ev || sim::event_info(*ev).cost != sim::Cost::kWork) {
    throw InputError("--set: '" + key +
                     "' is not a work event (valid: " + join(work_event_names()) + ")");
  }
  double ns = 0;
  const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), ns);
  // (NaN fails both comparisons.)
  if (ec != std::errc() || ptr != value.data() + value.size() || !(ns >= 0 && ns <= kMaxUnitNs)) {
    throw InputError("--set " + key + ": '" + value +
                     "' is not a number of nanoseconds from 0 to 1e9 (one second)");
  }
  UnitCost& u = *units_[static_cast<std::size_t>(*ev)];
  u.source =
      "command line --set (profile value was " + std::to_string(u.ns) + " ns: " + u.source + ")";
  u.ns = ns;
  u.mark = 'E';
}

std::string CostProfile::to_toml() const {
  std::ostringstream out;
  out << "# Resolved cost profile (from " << origin_
      << ")\n[profile]\nname = " << toml_quoted(name_)
      << "\ndescription = " << toml_quoted(description_) << "\n\n[costs]\n";
  for (const auto& e : sim::kEventTable) {
    const auto& u = units_[static_cast<std::size_t>(e.event)];
    if (!u) continue;
    out << toml_quoted(std::string(e.name)) << " = { ns = " << std::setprecision(10) << u->ns
        << ", mark = \"" << u->mark << "\", uncertainty = " << toml_quoted(u->uncertainty)
        << ", source = " << toml_quoted(u->source) << " }\n";
  }
  return out.str();
}

CostProfile find_profile(const std::string& name_or_path) {
  for (const auto& b : builtin_profiles()) {
    if (b.name == name_or_path) return CostProfile::parse(b.text, "built-in:" + b.name);
  }
  if (name_or_path.find('/') != std::string::npos || name_or_path.ends_with(".toml")) {
    return CostProfile::load(name_or_path);
  }
  std::vector<std::string> names;
  for (const auto& b : builtin_profiles()) names.push_back(b.name);
  throw InputError("no cost profile '" + name_or_path + "' (built-in: " + join(names) +
                   "; or give a path to a .toml file)");
}

}  // namespace pib::cost
