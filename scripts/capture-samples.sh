#!/bin/sh
# SPDX-License-Identifier: MIT
# Captures the sample traces shipped in data/traces/ (docs/capture-replay.md) on this machine:
# a shell pipeline, a parallel build of a few C files, a Python start-up and a fork-heavy shell
# loop. Run from the repository root after building; the traces depend on this machine's
# programs and libraries, so a new capture changes them (the replay test only requires that
# every footprint check passes).
set -eu
pib=${PIB:-./build/src/app/pibooster}
out=${OUT:-data/traces}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$pib" capture -o "$out/sh-pipeline.jsonl" -- sh -c 'ls /usr/bin | sort | wc -l'

for i in 1 2 3 4; do
  printf 'int f%d(int x) { return x * %d; }\n' "$i" "$i" > "$work/f$i.c"
done
printf 'int f1(int); int f2(int); int f3(int); int f4(int);\nint main(void) { return f1(1) + f2(2) + f3(3) + f4(4) - 30; }\n' > "$work/main.c"
printf 'OBJS = main.o f1.o f2.o f3.o f4.o\nprog: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n%%.o: %%.c\n\t$(CC) -O2 -c $<\n' > "$work/Makefile"
trace=$(realpath "$out")/make-j2.jsonl
(cd "$work" && "$OLDPWD/$pib" capture -o "$trace" -- make -j2 -s)

"$pib" capture -o "$out/python3-pass.jsonl" -- /usr/bin/python3 -c pass
"$pib" capture -o "$out/fork-loop.jsonl" -- sh -c 'i=0; while [ $i -lt 20 ]; do /bin/true; (:); i=$((i + 1)); done'
