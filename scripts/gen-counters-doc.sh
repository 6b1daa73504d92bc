#!/bin/sh
# Regenerates docs/counters.md from the model's event table (run after adding a counter).
set -eu
cd "$(dirname "$0")/.."
{
  cat <<'HEAD'
# Counters

Every counter the model keeps, in one table (the same as `pibooster stats --list`). Counts are
the ground truth of every result; modeled time will be count × unit cost from a profile.
A unit test fails if a counter is missing here. Regenerate with `scripts/gen-counters-doc.sh`.

| counter | unit | meaning |
|---|---|---|
HEAD
  build/src/app/pibooster stats --list --markdown
} > docs/counters.md
