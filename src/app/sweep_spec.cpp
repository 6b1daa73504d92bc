// SPDX-License-Identifier: MIT
#include "app/sweep_spec.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <map>

#include "common/error.hpp"
#include "common/text_file.hpp"
#include "report/report.hpp"
#include "scenario/toml_keys.hpp"

namespace pib::app {

namespace {

using scenario::toml_where;

constexpr std::string_view kCostPrefix = "cost.";

// A spec is small: a larger file is a mistake (or not a spec).
constexpr uint64_t kMaxSpecBytes = 1 << 20;

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw InputError(where + ": " + what);
}

// A scalar as the text a scenario file or --set would hold; strings as they are.
std::string scalar_text(const toml::node& n, const std::string& where, const std::string& key) {
  if (const auto* s = n.as_string()) return s->get();
  if (const auto* i = n.as_integer()) return std::to_string(i->get());
  if (const auto* b = n.as_boolean()) return b->get() ? "true" : "false";
  if (const auto* f = n.as_floating_point()) {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, f->get());  // shortest round trip
    return std::string(buf, r.ptr);
  }
  fail(where, key + " must be a string, a number or a boolean");
}

bool plain_name(const std::string& s) {
  return !s.empty() && s.size() <= 64 && s.front() != '.' &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
         });
}

// A scenario or profile named by path is taken from the spec's folder when relative.
std::string resolve_path(const std::string& name, const std::string& base_dir) {
  const bool is_path = name.find('/') != std::string::npos || name.ends_with(".toml");
  if (!is_path || name.front() == '/' || base_dir.empty()) return name;
  return (std::filesystem::path(base_dir) / name).lexically_normal().string();
}

const toml::table& table_of(const toml::node& n, const std::string& origin,
                            const std::string& what) {
  if (!n.is_table()) fail(toml_where(origin, n), what + " must be a table");
  return *n.as_table();
}

// Keys of `t` must be among `valid`.
void check_keys(const toml::table& t, const std::string& origin, const std::string& section,
                std::initializer_list<std::string_view> valid) {
  for (const auto& [k, v] : t) {
    if (std::find(valid.begin(), valid.end(), k.str()) == valid.end()) {
      std::string list;
      for (const auto n : valid) list += (list.empty() ? "" : ", ") + std::string(n);
      fail(toml_where(origin, v),
           "unknown key " + section + "." + std::string(k.str()) + " (valid: " + list + ")");
    }
  }
}

std::string required_string(const toml::table& t, std::string_view key, const std::string& origin,
                            const std::string& section) {
  const toml::node* n = t.get(key);
  if (n == nullptr) fail(toml_where(origin, t), "missing " + section + "." + std::string(key));
  if (!n->is_string()) {
    fail(toml_where(origin, *n), section + "." + std::string(key) + " must be a string");
  }
  return n->as_string()->get();
}

void read_sweep(const toml::table& t, const std::string& origin, const std::string& base_dir,
                SweepSpec& spec) {
  check_keys(t, origin, "sweep", {"format", "name", "scenario", "profile", "policies", "max_jobs"});
  const toml::node* format = t.get("format");
  if (format == nullptr) {
    fail(toml_where(origin, t),
         "missing sweep.format (this build reads format = " + std::to_string(kSweepFormat) + ")");
  }
  if (format->value<int64_t>() != kSweepFormat) {
    fail(toml_where(origin, *format), "sweep.format must be " + std::to_string(kSweepFormat) +
                                          " (the spec format this build reads)");
  }
  spec.name = required_string(t, "name", origin, "sweep");
  if (!plain_name(spec.name)) {
    fail(toml_where(origin, *t.get("name")),
         "sweep.name '" + spec.name +
             "' must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.' (it "
             "names the default output directory)");
  }
  spec.scenario = resolve_path(required_string(t, "scenario", origin, "sweep"), base_dir);
  spec.profile = t.get("profile") != nullptr
                     ? resolve_path(required_string(t, "profile", origin, "sweep"), base_dir)
                     : std::string("paper-era-server");
  if (const toml::node* p = t.get("policies")) {
    const toml::array* arr = p->as_array();
    if (arr == nullptr || arr->empty()) {
      fail(toml_where(origin, *p), "sweep.policies must be a non-empty array of policy names");
    }
    for (const auto& el : *arr) {
      if (!el.is_string()) fail(toml_where(origin, el), "sweep.policies: names are strings");
      spec.policies.push_back(el.as_string()->get());
      try {
        scenario::check_policies(spec.policies);
      } catch (const InputError& e) {
        fail(toml_where(origin, el), std::string("sweep.policies: ") + e.what());
      }
    }
  }
  if (const toml::node* m = t.get("max_jobs")) {
    const auto v = m->value<int64_t>();
    if (!m->is_integer() || !v || *v < 1 || static_cast<uint64_t>(*v) > kMaxSweepJobs) {
      fail(toml_where(origin, *m),
           "sweep.max_jobs must be an integer in 1.." + std::to_string(kMaxSweepJobs));
    }
    spec.max_jobs = static_cast<std::size_t>(*v);
  }
}

void read_axis(const toml::node& n, const std::string& origin, SweepSpec& spec) {
  const toml::table& t = table_of(n, origin, "each [[axis]]");
  check_keys(t, origin, "axis", {"key", "values"});
  SweepAxis axis;
  axis.key = required_string(t, "key", origin, "axis");
  axis.where = toml_where(origin, *t.get("key"));
  const toml::node* values = t.get("values");
  if (values == nullptr) fail(toml_where(origin, t), "axis " + axis.key + ": missing values");
  const toml::array* arr = values->as_array();
  if (arr == nullptr || arr->empty() || arr->size() > kMaxAxisValues) {
    fail(toml_where(origin, *values), "axis " + axis.key + ": values must be an array of 1 to " +
                                          std::to_string(kMaxAxisValues) + " values");
  }
  for (const auto& v : *arr) {
    const std::string where = toml_where(origin, v);
    axis.values.push_back({scalar_text(v, where, "axis " + axis.key + " values"), where});
  }
  spec.axes.push_back(std::move(axis));
}

// Sets `key` = `v` on a job's scenario or profile, with the checks of the file or of --set.
void apply(const std::string& key, const SpecValue& v, scenario::Scenario& sc,
           cost::CostProfile& profile) {
  if (key.starts_with(kCostPrefix)) {
    try {
      profile.set(key.substr(kCostPrefix.size()), v.text);
    } catch (const InputError& e) {
      fail(v.where, key + ": " + e.what());
    }
    return;
  }
  if (key == "policies") fail(v.where, "policies are set by sweep.policies, not by a key");
  sc.set(key, v.text, v.where);
}

}  // namespace

SweepSpec SweepSpec::parse(const std::string& text, const std::string& origin,
                           const std::string& base_dir) {
  toml::table doc;
  try {
    doc = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    fail(origin + ":" + std::to_string(e.source().begin.line), std::string(e.description()));
  }
  check_keys(doc, origin, "(top level)", {"sweep", "set", "axis"});
  SweepSpec spec;
  spec.origin = origin;
  const toml::node* sweep = doc.get("sweep");
  if (sweep == nullptr) fail(origin, "missing [sweep] (format, name, scenario)");
  read_sweep(table_of(*sweep, origin, "[sweep]"), origin, base_dir, spec);
  if (const toml::node* set = doc.get("set")) {
    for (const auto& [k, v] : table_of(*set, origin, "[set]")) {
      const std::string where = toml_where(origin, v);
      spec.fixed.emplace_back(std::string(k.str()), SpecValue{scalar_text(v, where, "set"), where});
    }
  }
  if (const toml::node* axes = doc.get("axis")) {
    const toml::array* arr = axes->as_array();
    if (arr == nullptr) fail(toml_where(origin, *axes), "axis must be written [[axis]]");
    if (arr->size() > kMaxSweepAxes) {
      fail(toml_where(origin, *axes), "at most " + std::to_string(kMaxSweepAxes) + " axes");
    }
    for (const auto& a : *arr) read_axis(a, origin, spec);
  }
  // A key set twice would silently lose one of its settings.
  std::map<std::string, std::string> seen;
  auto once = [&](const std::string& key, const std::string& where) {
    const auto [it, fresh] = seen.emplace(key, where);
    if (!fresh) fail(where, key + " is already set at " + it->second);
  };
  for (const auto& [k, v] : spec.fixed) once(k, v.where);
  for (const auto& a : spec.axes) once(a.key, a.where);
  return spec;
}

SweepSpec SweepSpec::load(const std::string& path) {
  const std::string text = read_text_file(path, "sweep spec", kMaxSpecBytes);
  return parse(text, path, std::filesystem::path(path).parent_path().string());
}

std::size_t SweepSpec::job_count() const {
  std::size_t n = std::max<std::size_t>(policies.size(), 1);
  for (const auto& a : axes) {
    // Stops before the product can overflow: each factor is at most kMaxAxisValues.
    n *= a.values.size();
    if (n > max_jobs) break;
  }
  if (n > max_jobs) {
    throw InputError(origin + ": the sweep has more than " + std::to_string(max_jobs) +
                     " jobs (axes x policies; the limit is sweep.max_jobs, at most " +
                     std::to_string(kMaxSweepJobs) + ")");
  }
  return n;
}

void expand(const SweepSpec& spec,
            const std::function<void(const SweepJob&, const scenario::Scenario&,
                                     const cost::CostProfile&)>& each) {
  const std::size_t total = spec.job_count();
  scenario::Scenario base = scenario::find_scenario(spec.scenario);
  cost::CostProfile base_profile = cost::find_profile(spec.profile);
  for (const auto& [k, v] : spec.fixed) apply(k, v, base, base_profile);
  const std::vector<std::string> policies = spec.policies.empty() ? base.policies : spec.policies;
  // Every value alone first, so a bad one is named before any combination is built.
  for (const auto& a : spec.axes) {
    for (const auto& v : a.values) {
      scenario::Scenario sc = base;
      cost::CostProfile p = base_profile;
      apply(a.key, v, sc, p);
    }
  }
  std::map<std::string, std::size_t> by_hash;
  std::vector<std::size_t> at(spec.axes.size(), 0);  // the current value of each axis
  std::size_t index = 0;
  for (;;) {
    for (const auto& policy : policies) {
      scenario::Scenario sc = base;
      cost::CostProfile p = base_profile;
      SweepJob job;
      job.index = index++;
      job.policy = policy;
      for (std::size_t a = 0; a < spec.axes.size(); ++a) {
        const SpecValue& v = spec.axes[a].values[at[a]];
        apply(spec.axes[a].key, v, sc, p);
        job.values.push_back(v.text);
      }
      sc.policies = {policy};
      // As the job will read them back from its files, so the hash is the one it computes.
      const scenario::Scenario resolved = scenario::Scenario::parse(sc.to_toml(), sc.origin);
      const cost::CostProfile resolved_profile = cost::CostProfile::parse(p.to_toml(), p.origin());
      job.hash = report::config_hash(resolved, resolved_profile);
      const auto [it, fresh] = by_hash.emplace(job.hash, job.index);
      if (!fresh) {
        throw InputError(spec.origin + ": jobs " + std::to_string(it->second + 1) + " and " +
                         std::to_string(job.index + 1) +
                         " have the same configuration (is a value listed twice?)");
      }
      each(job, resolved, resolved_profile);
    }
    // The next point: the last axis varies fastest; done when the first one wraps.
    bool done = true;
    for (std::size_t a = spec.axes.size(); a-- > 0;) {
      if (++at[a] < spec.axes[a].values.size()) {
        done = false;
        break;
      }
      at[a] = 0;
    }
    if (done) break;
  }
  if (index != total)
    model_bug("sweep expanded to " + std::to_string(index) + " jobs, not " + std::to_string(total));
}

}  // namespace pib::app
