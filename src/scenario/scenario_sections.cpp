// SPDX-License-Identifier: MIT
// [scenario], [workload] and [paper]: what a scenario runs, how often, and the paper's figure
// it reproduces.
#include <algorithm>
#include <cctype>
#include <cstdint>

#include "scenario/sections.hpp"

namespace pib::scenario {

const TomlSection<Scenario>& scenario_section() {
  static const TomlSection<Scenario> section{
      "scenario",
      {
          string_key<Scenario>(
              "name", [](auto& s) -> auto& { return s.name; }, true),
          string_key<Scenario>(
              "description", [](auto& s) -> auto& { return s.description; }),
          integer_key<Scenario>(
              "iterations", 1, 1000000, [](auto& s) -> auto& { return s.iterations; }),
          integer_key<Scenario>(
              "warmup", 0, 1000000, [](auto& s) -> auto& { return s.warmup; }),
          // The guest's layout draws and seeded workloads take it.
          integer_key<Scenario>(
              "seed", 0, UINT32_MAX, [](auto& s) -> auto& { return s.system.seed; }),
      },
      // The name is the results directory's (results/NAME): one plain path component, so
      // that nothing is written outside the output directory.
      [](const Scenario& s) -> std::string {
        const bool plain = !s.name.empty() && s.name.size() <= 64 && s.name.front() != '.' &&
                           std::all_of(s.name.begin(), s.name.end(), [](char c) {
                             return std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                                    c == '_' || c == '.';
                           });
        if (plain) return "";
        return "scenario.name '" + s.name +
               "' must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.' (it "
               "names the results directory)";
      }};
  return section;
}

namespace {

// [workload.params]: integers or strings, kept as text (the workload parses its own).
TomlKey<WorkloadSpec> params_key() {
  TomlKey<WorkloadSpec> key{"params",
                            [](const TomlValue& v, WorkloadSpec& w) {
                              for (const auto& [k, node] : v.table()) {
                                const std::string name(k.str());
                                if (node.is_integer()) {
                                  w.params.set(name, std::to_string(*node.value<int64_t>()));
                                } else if (node.is_string()) {
                                  w.params.set(name, node.as_string()->get());
                                } else {
                                  throw InputError(v.where_of(node) + ": workload parameter " +
                                                   name + " must be an integer or a string");
                                }
                              }
                            },
                            [](const WorkloadSpec& w) -> std::optional<std::string> {
                              if (w.params.values().empty()) return std::nullopt;
                              std::string lines;
                              for (const auto& [k, val] : w.params.values())
                                lines += k + " = " + toml_string(val) + "\n";
                              return lines;
                            }};
  key.subtable = true;
  return key;
}

}  // namespace

const TomlSection<WorkloadSpec>& workload_section() {
  static const TomlSection<WorkloadSpec> section{
      "workload",
      {
          string_key<WorkloadSpec>(
              "name", [](auto& w) -> auto& { return w.name; }, true),
          params_key(),
      },
      [](const WorkloadSpec& w) -> std::string {
        try {
          workload::make_workload(w.name, w.params);  // validates the name and parameter keys
        } catch (const InputError& e) {
          return e.what();
        }
        return "";
      }};
  return section;
}

const TomlSection<PaperClaim>& paper_section() {
  static const TomlSection<PaperClaim> section{
      "paper",
      {
          string_key<PaperClaim>(
              "claim", [](auto& p) -> auto& { return p.claim; }, false, /*omit_empty=*/true),
          optional_number_key<PaperClaim>(
              "latency_change_pct", [](auto& p) -> auto& { return p.latency_pct; }),
          optional_number_key<PaperClaim>(
              "pt_work_change_pct", [](auto& p) -> auto& { return p.pt_work_pct; }),
      }};
  return section;
}

}  // namespace pib::scenario
