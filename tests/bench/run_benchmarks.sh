#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The serving benchmarks docs/BENCHMARKS.md reports, on the bundled demo model and SST-2 dev.
# Run from a release build on a quiet machine: every `sida bench` writes its JSON to OUT_DIR and
# prints its table.
#
#   tests/bench/run_benchmarks.sh [OUT_DIR]      (default: build/bench; SIDA_THREADS, default 1)
#
# One intra-op thread by default: on the 2-core build machine it is the fastest setting for every
# policy, and it leaves the other core to the hash thread (docs/BENCHMARKS.md, "Threads").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

sida=build/release/bin/sida
model=resources/models/sst2-switch
dev=${SIDA_GLUE_DIR:-../shared/data/glue}/SST-2/dev.tsv
threads=${SIDA_THREADS:-1}
out=${1:-build/bench}
mkdir -p "$out"

bench() { # NAME ARGS...: one table on the terminal, the same run's JSON in OUT_DIR/NAME.json
  local name=$1
  shift
  echo "== $name: sida bench $*"
  "$sida" bench "$model" --data "$dev" --threads "$threads" --device cpu "$@" --json > "$out/$name.json"
  python3 - "$out/$name.json" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
mib = 1 << 20
print(f"{'policy':<11} {'samples/s':>9} {'batch ms':>8} {'resident MiB (mean/peak)':>25} "
      f"{'used MiB':>8} {'copied MiB':>10} {'copy ms':>7} {'hidden':>6} {'hit rate':>8} {'wait %':>6} {'accuracy':>8}")
for r in report["runs"]:
    hit = "-" if r["hit_rate"] is None else f"{r['hit_rate']:.4f}"
    acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.4f}"
    print(f"{r['policy']:<11} {r['samples_per_second']:>9.1f} {r['batch_ms']:>8.2f} "
          f"{r['mean_resident_expert_bytes'] / mib:>15.2f} / {r['peak_resident_expert_bytes'] / mib:>7.2f} "
          f"{r['mean_used_expert_bytes'] / mib:>8.2f} {r['bytes_copied'] / mib:>10.1f} {r['copy_ms']:>7.2f} "
          f"{r['copy_hidden_ms']:>6.2f} {hit:>8} {100 * r['wait_for_hash_fraction']:>6.2f} {acc:>8}")
print(f"all experts: {report['runs'][0]['all_expert_bytes'] / mib:.2f} MiB; {report['cpu']}, {report['threads']} threads")
EOF
}

# Memory (the paper's setup): batch 1, everything a batch does not need evicted before it runs.
bench memory-batch1 --batch 1 --no-cache --compare standard,oracle,sida,sida-exact
# Throughput under a budget of half the experts, with caching across batches.
bench budget50-batch8 --batch 8 --budget 50% --compare standard,sida,ondemand
# The same budget at batch 1, where a batch's working set (about half the experts) fits.
bench budget50-batch1 --batch 1 --budget 50% --compare standard,sida,ondemand
