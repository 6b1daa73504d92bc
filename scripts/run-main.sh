#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job behind `make run`: the hypercall-script examples against the hypervisor model,
# then the PiBooster headline experiments in a quick form (fork+exit, fork+execve, a NIC stream
# under process churn), each comparing baseline, PiBooster and its ablations with the paper's
# figures printed beside the model's, then the baseline against bare metal. Results, resolved
# scenarios and profiles, and plots land in results/.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./build/src/app/pibooster
"$bin" hv-script examples/hv-scripts/*.hvs > results-hv-scripts.txt || {
  cat results-hv-scripts.txt
  exit 1
}
echo "hypercall-script examples: all expectations met (transcript: results-hv-scripts.txt)"
echo
for scenario in pibooster-fork pibooster-exec pibooster-net; do
  "$bin" run "$scenario" --iterations 10
  echo
done
"$bin" run lmbench-fork --iterations 10
echo
echo "More: $bin scenarios | $bin run SCENARIO --help | $bin fidelity | $bin stats --list"
