#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Rewrites tests/digest/expected.txt: one line per built-in scenario x policy (and per fidelity
# mode) with a hash of every count and modeled time the run produced, from the release build.
#
# Use it only on purpose, when a change is MEANT to change what the model counts or times (a
# new event, a corrected cost path, a new scenario or policy); commit the new file with that
# change and say in the message which lines moved and why. A change that only makes the
# simulator faster must pass the digest test (`ctest --preset release -L digest`) unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build --preset release --target digest_tests >/dev/null
out=tests/digest/expected.txt
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
PIB_DIGEST_WRITE="$tmp" ./build/tests/digest_tests >/dev/null
{
  echo "# Written by scripts/update-digest.sh: scenario policy ops events latency_ns digest"
  echo "# (fidelity: mode, figures, figures within tolerance, digest). Do not edit by hand."
  sort -s -k1,1 "$tmp"
} >"$out"
echo "wrote $out ($(grep -vc '^#' "$out") lines); review with: git diff $out"
