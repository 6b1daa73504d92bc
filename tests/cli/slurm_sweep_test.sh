#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Slurm array script of a sweep, run by a real single-node Slurm: munged, slurmctld and
# slurmd (Debian's munge and slurm-wlm) are started here on localhost, configured in a
# temporary folder (nothing under /etc is read or changed), and stopped at the end. The array's
# merged table must equal the one of the same sweep run locally, and a second sweep must find
# every job done. Usage: slurm_sweep_test.sh PIBOOSTER_BINARY
set -euo pipefail
bin=$(realpath "$1")
if [ "$(id -u)" -ne 0 ]; then
  # slurmd launches jobs as their users: it needs root. ctest reports this as skipped.
  echo "SKIP: slurmd must run as root (this test starts its own on localhost)"
  exit 77
fi
for tool in munged slurmctld slurmd sbatch squeue sinfo; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool not installed (scripts/install-deps.sh)"; exit 1; }
done

work=$(mktemp -d /tmp/pibooster-slurm-XXXXXX)
pids=()
cleanup() {
  # Only the daemons this script started, by their process ids.
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for log in "$work"/log/*.log "$work"/munge/munged.log; do
    [ -f "$log" ] && { echo "--- $log"; tail -n 20 "$log"; }
  done
  exit 1
}

# Two free TCP ports for slurmctld and slurmd.
ports=()
while [ ${#ports[@]} -lt 2 ]; do
  p=$((20000 + RANDOM % 10000))
  ss -ltn "( sport = :$p )" | grep -q ":$p " || ports+=("$p")
done

mkdir -p "$work"/{munge,state,spool,log}
chmod 700 "$work/munge"
head -c 1024 /dev/urandom > "$work/munge/munge.key"
chmod 600 "$work/munge/munge.key"
munged --foreground --force --key-file="$work/munge/munge.key" \
  --socket="$work/munge/munge.sock" --pid-file="$work/munge/munged.pid" \
  --log-file="$work/munge/munged.log" --seed-file="$work/munge/seed" >/dev/null 2>&1 &
pids+=($!)

host=$(hostname -s)
cpus=$(nproc)
cat > "$work/slurm.conf" <<CONF
ClusterName=pibooster-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=$(id -un)
SlurmctldPort=${ports[0]}
SlurmdPort=${ports[1]}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/munge.sock
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
for _ in $(seq 50); do [ -S "$work/munge/munge.sock" ] && break; sleep 0.1; done
slurmctld -D -i -f "$SLURM_CONF" >/dev/null 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >/dev/null 2>&1 &
pids+=($!)
state=
for _ in $(seq 100); do
  state=$(sinfo -h -o %T 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.2
done
[ "$state" = idle ] || fail "the Slurm node did not come up (state '$state')"

cat > "$work/iotlb.toml" <<'SPEC'
[sweep]
format = 1
name = "iotlb-slurm"
scenario = "pibooster-fork"
policies = ["baseline", "pibooster"]

[set]
"scenario.iterations" = 2
"scenario.warmup" = 1

[[axis]]
key = "cost.hw.iotlb.invalidations.page"
values = [300, 3000]
SPEC
"$bin" sweep "$work/iotlb.toml" --out "$work/slurm-run" --write-only >/dev/null
job=$(sbatch --parsable "$work/slurm-run/sweep.sbatch") || fail "sbatch refused the script"
job=${job%%;*}
for _ in $(seq 300); do
  [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
  sleep 0.2
done
[ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && [ "$(ls "$work"/slurm-run/slurm/*.log | wc -l)" -eq 4 ] ||
  fail "the array job $job did not finish its 4 tasks within 60 s"
"$bin" merge "$work/slurm-run" --no-plot >/dev/null || fail "merge after Slurm: $(cat "$work"/slurm-run/slurm/*.log)"
[ "$(wc -l < "$work/slurm-run/merged.csv")" -eq 5 ] || fail "merged.csv has not 4 rows"

"$bin" sweep "$work/iotlb.toml" --out "$work/local-run" -j 2 --no-plot >/dev/null
cmp "$work/slurm-run/merged.csv" "$work/local-run/merged.csv" ||
  fail "the Slurm array's results differ from the local run's"
"$bin" sweep "$work/iotlb.toml" --out "$work/slurm-run" --write-only | grep -q "4 done already, 0 to run" ||
  fail "a second sweep did not find the Slurm jobs done"
echo "PASS: Slurm array job $job ran 4 sweep jobs; merged table equals the local run's"
