#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job behind `make run`: the hypercall-script examples against the hypervisor model,
# then the PiBooster headline experiments in a quick form — one shown in full (a screenful),
# the others run quietly — each comparing baseline, PiBooster and its ablations, and at the end
# one table across them: model (with 90 % intervals over the cost ranges) vs paper. Results,
# resolved scenarios and profiles, and plots land in results/SCENARIO/HASH/ (latest: the
# results/SCENARIO/latest symlink).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./build/src/app/pibooster
"$bin" hv-script examples/hv-scripts/*.hvs > results-hv-scripts.txt || {
  cat results-hv-scripts.txt
  exit 1
}
echo "hypercall-script examples: all expectations met (transcript: results-hv-scripts.txt)"
echo
"$bin" run pibooster-fork --iterations 10
echo
files=(results/pibooster-fork/latest/results.json)
for scenario in pibooster-exec pibooster-spawn pibooster-net pibooster-disk; do
  "$bin" run "$scenario" --iterations 10 > /dev/null
  echo "ran $scenario: results/$scenario/latest/"
  files+=("results/$scenario/latest/results.json")
done
echo
"$bin" headlines "${files[@]}"
echo
echo "More: $bin run SCENARIO [--verbose] | $bin scenarios | $bin help | $bin stats --list"
