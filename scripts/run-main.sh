#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job behind `make run`: the hypercall-script examples against the hypervisor model,
# then the process workloads on the guest kernel under the xen and native pv-ops.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./build/src/app/pibooster
"$bin" hv-script examples/hv-scripts/*.hvs
echo "All example scripts met their expectations."
echo
"$bin" workload lat_proc.fork --iterations 20
echo
"$bin" workload lat_proc.exec --iterations 10
echo
"$bin" workload unixbench.shell8 --vcpus 2 --iterations 2
echo "Counter meanings: $bin stats --list; workloads: $bin workload --list"
