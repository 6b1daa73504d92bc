#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job behind `make run`. Until the guest kernel and the scenario runner exist, it runs
# the documented hypercall-script examples and prints the counter table.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./build/src/app/pibooster
"$bin" hv-script examples/hv-scripts/*.hvs
echo "All example scripts met their expectations. Counter meanings: $bin stats --list"
