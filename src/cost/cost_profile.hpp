// SPDX-License-Identifier: MIT
// A cost profile: the unit cost, in nanoseconds, of every work event (sim::Cost::kWork), each
// with where the number comes from, how sure it is (in words, and as a range low..high with a
// distribution, which the run samples for its intervals), and its honesty mark (V verified, R
// recalled, E engineering estimate, M measured on this machine). Profiles are TOML files in
// profiles/; a missing work event, a cost given to a tally, an unknown key, a value without a
// source or a range that does not hold the value is an error that names the file, the line and
// the valid keys.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/events.hpp"

namespace pib::cost {

// How a cost is drawn from its range: not at all (fixed), evenly (uniform), or evenly in its
// logarithm (loguniform: the reading of a range given as a factor, "x3", or spanning >= 2.5x).
enum class Dist { kFixed, kUniform, kLogUniform };
std::string_view name_of(Dist d);
// The largest unit cost a profile or --set may give (ns): one second per event. Larger values,
// infinities and NaN are refused, so that modeled times stay finite.
inline constexpr double kMaxUnitNs = 1e9;

struct UnitCost {
  double ns = 0;
  double low = 0;  // the range the source gives, low <= ns <= high
  double high = 0;
  Dist dist = Dist::kFixed;
  std::string source;
  std::string uncertainty;            // the source's words, e.g. "x2", "300-3000 ns"
  char mark = 'E';                    // V, R, E or M
  std::optional<double> original_ns;  // set by --set: the profile's value it replaced
};

// One --set override: the event, the value it was given, the profile's value before.
struct Override {
  sim::Event event;
  double ns = 0;
  double original_ns = 0;
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

  // --set KEY=VALUE: a new unit cost for one work event, taken as exact (its range collapses to
  // it); the source and original_ns record what it replaced.
  void set(const std::string& key, const std::string& value);
  // A row measured or fitted on this machine (pibooster calibrate): replaces the work event's
  // row whole, range and source included; InputError when the range does not hold the value.
  void replace(sim::Event e, const UnitCost& u);
  // A derived profile's own name and description (what it is, not what it came from).
  void rename(std::string name, std::string description);
  // Every overridden row, in event-table order.
  std::vector<Override> overrides() const;
  // The name, and the overrides when there are any: "paper-era-server, xen.entries=200 (was 180)".
  std::string label() const;
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
