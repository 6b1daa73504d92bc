// SPDX-License-Identifier: MIT
#include "cost/cost_profile.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iomanip>
#include <iterator>
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

// The names of the distributions, as a profile spells them.
constexpr std::pair<Dist, std::string_view> kDistNames[] = {
    {Dist::kFixed, "fixed"}, {Dist::kUniform, "uniform"}, {Dist::kLogUniform, "loguniform"}};

std::string fmt_ns(double v) {
  std::ostringstream o;
  o << std::setprecision(10) << v;
  return o.str();
}

// One [costs] row: { ns, low, high, dist, mark, uncertainty, source [, original_ns] }.
UnitCost parse_unit(const std::string& origin, const std::string& k, const toml::table& t) {
  UnitCost u;
  for (const auto& [field, value] : t) {
    const std::string f(field.str());
    if (f == "ns" || f == "low" || f == "high" || f == "original_ns") {
      const auto d = value.value<double>();
      if (!d || !(*d >= 0) || *d > kMaxUnitNs) {
        throw InputError(where(origin, value.source()) + ": " + k + "." + f +
                         " must be a number from 0 to 1e9 (one second)");
      }
      if (f == "ns") u.ns = *d;
      if (f == "low") u.low = *d;
      if (f == "high") u.high = *d;
      if (f == "original_ns") u.original_ns = *d;
    } else if (f == "source" || f == "uncertainty" || f == "mark" || f == "dist") {
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
      if (f == "dist") {
        const auto* d = std::find_if(std::begin(kDistNames), std::end(kDistNames),
                                     [&](const auto& n) { return n.second == s; });
        if (d == std::end(kDistNames)) {
          throw InputError(where(origin, value.source()) + ": " + k +
                           ".dist must be fixed, uniform or loguniform, got '" + s + "'");
        }
        u.dist = d->first;
      }
    } else {
      throw InputError(where(origin, value.source()) + ": unknown field " + k + "." + f +
                       " (valid: ns, low, high, dist, mark, uncertainty, source, original_ns)");
    }
  }
  for (const char* required : {"ns", "low", "high", "dist", "source", "uncertainty", "mark"}) {
    if (!t.contains(required)) {
      throw InputError(where(origin, t.source()) + ": " + k + " has no " + required +
                       " (every cost names its source, its range low..high with a dist, its "
                       "uncertainty in words and its mark)");
    }
  }
  if (!(u.low <= u.ns && u.ns <= u.high)) {
    throw InputError(where(origin, t.source()) + ": " + k + ": the range " + fmt_ns(u.low) + ".." +
                     fmt_ns(u.high) + " does not hold ns = " + fmt_ns(u.ns));
  }
  if (u.dist == Dist::kFixed && u.low != u.high) {
    throw InputError(where(origin, t.source()) + ": " + k +
                     ": dist = \"fixed\" needs low = high (or give uniform or loguniform)");
  }
  if (u.dist == Dist::kLogUniform && u.low <= 0) {
    throw InputError(where(origin, t.source()) + ": " + k + ": a loguniform range needs low > 0");
  }
  return u;
}

}  // namespace

std::string_view name_of(Dist d) {
  for (const auto& [dist, name] : kDistNames) {
    if (dist == d) return name;
  }
  return "?";
}

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
    const UnitCost u = parse_unit(origin, k, *t);
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
  u.source = "command line --set (profile value was " + fmt_ns(u.original_ns.value_or(u.ns)) +
             " ns: " + u.source + ")";
  if (!u.original_ns) u.original_ns = u.ns;
  u.ns = ns;
  u.low = ns;
  u.high = ns;
  u.dist = Dist::kFixed;
  u.mark = 'E';
}

void CostProfile::replace(sim::Event e, const UnitCost& u) {
  auto& row = units_[static_cast<std::size_t>(e)];
  if (!row) model_bug(std::string(sim::event_name(e)) + " is not a work event");
  if (!(u.low <= u.ns && u.ns <= u.high && u.low >= 0 && u.high <= kMaxUnitNs)) {
    throw InputError(std::string(sim::event_name(e)) + ": the range " + fmt_ns(u.low) + ".." +
                     fmt_ns(u.high) + " does not hold ns = " + fmt_ns(u.ns));
  }
  row = u;
}

void CostProfile::rename(std::string name, std::string description) {
  name_ = std::move(name);
  description_ = std::move(description);
}

std::vector<Override> CostProfile::overrides() const {
  std::vector<Override> out;
  for (const auto& e : sim::kEventTable) {
    const auto& u = units_[static_cast<std::size_t>(e.event)];
    if (u && u->original_ns) out.push_back({e.event, u->ns, *u->original_ns});
  }
  return out;
}

std::string CostProfile::label() const {
  std::string out = name_;
  for (const Override& o : overrides()) {
    out += ", " + std::string(sim::event_name(o.event)) + "=" + fmt_ns(o.ns) + " (was " +
           fmt_ns(o.original_ns) + ")";
  }
  return out;
}

std::string CostProfile::to_toml() const {
  std::ostringstream out;
  out << "# Resolved cost profile (from " << origin_
      << ")\n[profile]\nname = " << toml_quoted(name_)
      << "\ndescription = " << toml_quoted(description_) << "\n\n[costs]\n";
  for (const auto& e : sim::kEventTable) {
    const auto& u = units_[static_cast<std::size_t>(e.event)];
    if (!u) continue;
    out << toml_quoted(std::string(e.name)) << " = { ns = " << fmt_ns(u->ns)
        << ", low = " << fmt_ns(u->low) << ", high = " << fmt_ns(u->high) << ", dist = \""
        << name_of(u->dist) << "\", mark = \"" << u->mark
        << "\", uncertainty = " << toml_quoted(u->uncertainty)
        << ", source = " << toml_quoted(u->source);
    if (u->original_ns) out << ", original_ns = " << fmt_ns(*u->original_ns);
    out << " }\n";
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
