#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job behind `make run`: the hypercall-script examples against the hypervisor model,
# then built-in comparison scenarios (Xen PV baseline vs bare metal) on the paper-era cost
# profile. Results, resolved scenarios and profiles, and plots land in results/.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./build/src/app/pibooster
"$bin" hv-script examples/hv-scripts/*.hvs > results-hv-scripts.txt || {
  cat results-hv-scripts.txt
  exit 1
}
echo "hypercall-script examples: all expectations met (transcript: results-hv-scripts.txt)"
echo
for scenario in lmbench-fork lmbench-exec unixbench-shell8 net-rx-churn; do
  "$bin" run "$scenario"
  echo
done
echo "More: $bin scenarios | $bin run SCENARIO --help | $bin workload --list | $bin stats --list"
