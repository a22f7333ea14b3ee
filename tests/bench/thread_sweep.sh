#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The thread sweep docs/BENCHMARKS.md reports ("Threads"): `sida bench` on the bundled demo model
# and SST-2 dev at batch 1 and 32, for the standard and sida policies, with the default thread
# setting (--threads 0, one per core) and each explicit count up to the machine's cores; three runs
# of each, one after the other, and their median. Run from a release build on a quiet machine.
#
#   tests/bench/thread_sweep.sh [OUT_DIR]      (default: build/bench/threads; SIDA_SWEEP_LIMIT=400)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

sida=build/release/bin/sida
dev=${SIDA_GLUE_DIR:-../shared/data/glue}/SST-2/dev.tsv
limit=${SIDA_SWEEP_LIMIT:-400}
out=${1:-build/bench/threads}
mkdir -p "$out"
cores=$(nproc)
counts=(0)
for t in 1 2 4 8 16 32 64; do [ "$t" -le "$cores" ] && counts+=("$t"); done

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $cores cores"
printf '%-9s %6s %-12s %10s   %s\n' policy batch threads "samples/s" "three runs"
for policy in standard sida; do
  for batch in 1 32; do
    for t in "${counts[@]}"; do
      runs=()
      for r in 1 2 3; do
        json="$out/$policy-b$batch-t$t-r$r.json"
        "$sida" bench --policy "$policy" --batch "$batch" --limit "$limit" --threads "$t" --device cpu \
          --data "$dev" --json > "$json" 2>> "$out/progress.log"
        runs+=("$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["runs"][0]["samples_per_second"], 1))' "$json")")
      done
      median=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)
      label=$t
      [ "$t" = 0 ] && label="0 (default)"
      printf '%-9s %6s %-12s %10s   %s\n' "$policy" "$batch" "$label" "$median" "${runs[*]}"
    done
  done
done
