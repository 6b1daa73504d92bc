// SPDX-License-Identifier: MIT
// A sweep specification (docs/sweeps.md): a TOML file naming a base scenario, a cost profile,
// the policies, keys set for every job and axes of values. Its expansion is the cross product
// of the axes and the policies: one independent job per point, each a resolved scenario (one
// policy) and a resolved profile, named by the content hash of the two. Scenario keys are set
// as the scenario file would set them ("scenario.seed", "workload.params.parent_heap_pages"),
// costs as --set would ("cost.hw.iotlb.invalidations.page"), with the same checks; every error
// names the spec file, the line and the key.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "cost/cost_profile.hpp"
#include "scenario/scenario.hpp"

namespace pib::app {

// The spec format this build reads ([sweep] format = 1).
inline constexpr int kSweepFormat = 1;
// At most this many jobs per sweep (a spec's max_jobs may lower it): checked from the axes'
// lengths before any job is built, so a typo cannot fill the disk with job directories.
inline constexpr std::size_t kMaxSweepJobs = 10000;
inline constexpr std::size_t kMaxSweepAxes = 8;
inline constexpr std::size_t kMaxAxisValues = 1000;

// One key's value as text (what the scenario file or --set would read), with its place.
struct SpecValue {
  std::string text;
  std::string where;  // "FILE:LINE"
};

struct SweepAxis {
  std::string key;
  std::string where;
  std::vector<SpecValue> values;
};

struct SweepSpec {
  std::string origin;  // the spec file
  std::string name;
  std::string scenario;  // resolved: a built-in name or a path
  std::string profile;   // resolved: a built-in name or a path
  std::vector<std::string> policies;
  std::vector<std::pair<std::string, SpecValue>> fixed;  // [set]
  std::vector<SweepAxis> axes;
  std::size_t max_jobs = kMaxSweepJobs;

  // `base_dir`: where relative scenario and profile paths are taken from (the spec's folder).
  static SweepSpec parse(const std::string& text, const std::string& origin,
                         const std::string& base_dir);
  static SweepSpec load(const std::string& path);

  // Jobs = product of the axes' lengths times the policies; InputError above max_jobs.
  std::size_t job_count() const;
};

// One job: its position in the sweep, its policy, one value per axis, its configuration hash.
struct SweepJob {
  std::size_t index = 0;
  std::string policy;
  std::vector<std::string> values;
  std::string hash;
};

// Builds every job in order (the last axis varies fastest, the policy fastest of all) and
// calls `each` with it and its resolved scenario and profile. The count is checked first; two
// jobs with the same configuration (a value listed twice) are an error naming both.
void expand(const SweepSpec& spec,
            const std::function<void(const SweepJob&, const scenario::Scenario&,
                                     const cost::CostProfile&)>& each);

}  // namespace pib::app
