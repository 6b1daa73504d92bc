// SPDX-License-Identifier: MIT
// A cost profile: the unit cost, in nanoseconds, of every work event (sim::Cost::kWork), each
// with where the number comes from, how sure it is, and its honesty mark (V verified, R recalled,
// E engineering estimate, M measured on this machine). Profiles are TOML files in profiles/;
// a missing work event, a cost given to a tally, an unknown key or a value without a source is
// an error that names the file, the line and the valid keys.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "sim/events.hpp"

namespace pib::cost {

// The largest unit cost a profile or --set may give (ns): one second per event. Larger values,
// infinities and NaN are refused, so that modeled times stay finite.
inline constexpr double kMaxUnitNs = 1e9;

struct UnitCost {
  double ns = 0;
  std::string source;
  std::string uncertainty;  // e.g. "x2", "±3x", "±20%"
  char mark = 'E';          // V, R, E or M
};

class CostProfile {
 public:
  // Parses profile text; `origin` names it in errors (a path or "built-in").
  static CostProfile parse(const std::string& text, const std::string& origin);
  static CostProfile load(const std::string& path);

  const std::string& name() const { return name_; }
  const std::string& description() const { return description_; }
  const std::string& origin() const { return origin_; }
  const UnitCost& unit(sim::Event e) const;
  double ns(sim::Event e) const { return unit(e).ns; }

  // --set KEY=VALUE: a new unit cost for one work event (recorded as the source).
  void set(const std::string& key, const std::string& value);
  // The resolved profile as TOML, loadable again (what a run writes next to its results).
  std::string to_toml() const;

  static std::vector<std::string> work_event_names();

 private:
  std::string name_;
  std::string description_;
  std::string origin_;
  std::array<std::optional<UnitCost>, sim::kEventCount> units_{};
};

struct BuiltinProfile {
  std::string name;
  std::string text;
};
const std::vector<BuiltinProfile>& builtin_profiles();
// A built-in profile name or a path to a .toml file.
CostProfile find_profile(const std::string& name_or_path);

}  // namespace pib::cost
