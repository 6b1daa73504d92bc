#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages pibooster needs to build, test and plot, and the engines a sweep
# runs on (GNU parallel; Slurm with munge, which the sweep tests start on localhost). Only packages that are
# missing are installed, so a second run is quick and needs no network. With --fuzz, also clang
# and its libFuzzer runtime (make fuzz).
set -euo pipefail

packages=(
  g++ cmake ninja-build make
  libgtest-dev libgmock-dev libbenchmark-dev
  libtomlplusplus-dev nlohmann-json3-dev
  gnuplot-nox
  parallel slurm-wlm munge
)
if [ "${1:-}" = "--fuzz" ]; then
  packages+=(clang-14 libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
