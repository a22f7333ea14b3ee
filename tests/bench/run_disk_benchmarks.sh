#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The disk-tier benchmarks docs/BENCHMARKS.md reports: models whose experts do not fit in the
# memory a run may use, served from the checkpoint files through the host cache. Each limited run
# goes into its own memory cgroup (root; cgroup v1 or v2) after the page cache is dropped, so
# neither the limit nor a warm cache from the run before flatters it. Every `sida bench` writes
# its JSON to OUT_DIR; summary.txt holds the figures the goals are judged by.
#
#   tests/bench/run_disk_benchmarks.sh [OUT_DIR] [SECTION...]   (default: build/bench-disk; all)
#       SECTIONS: bandwidth base128 base128-small bundled large128
#   SIDA_THREADS (default 1), SIDA_LIMIT (inputs per synthetic run, default 200),
#   SIDA_IO (pread or uring, default pread: how experts are read)
#
# Without root (or without a memory cgroup to write to) the limited runs run unlimited and
# summary.txt says so: then start the script inside a limit of your own, e.g.
#   systemd-run --user --scope -p MemoryMax=6G tests/bench/run_disk_benchmarks.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

sida=$PWD/build/release/bin/sida
dev=${SIDA_GLUE_DIR:-../shared/data/glue}/SST-2/dev.tsv
threads=${SIDA_THREADS:-1}
limit=${SIDA_LIMIT:-200}
io=${SIDA_IO:-pread}
out=${1:-build/bench-disk}
shift || true
sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(bandwidth base128 base128-small bundled large128)
mkdir -p "$out"
cache=${XDG_CACHE_HOME:-$HOME/.cache}/sida-studio/synthetic

wants() { local s; for s in "${sections[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

# Runs "$@" inside a fresh memory cgroup of LIMIT bytes, caches dropped first. Prints nothing of
# its own; falls back to an unlimited run (noted in OUT_DIR/limits.txt) where it cannot.
limited() {
  local bytes=$1 name=$2
  shift 2
  sync
  [ -w /proc/sys/vm/drop_caches ] && echo 3 > /proc/sys/vm/drop_caches
  local group=""
  if [ -d /sys/fs/cgroup/memory ] && [ -w /sys/fs/cgroup/memory ]; then
    group=/sys/fs/cgroup/memory/sida-bench-$$-$name
    mkdir -p "$group"
    echo "$bytes" > "$group/memory.limit_in_bytes"
  elif [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers &&
       [ -w /sys/fs/cgroup ]; then
    group=/sys/fs/cgroup/sida-bench-$$-$name
    mkdir -p "$group"
    echo "$bytes" > "$group/memory.max"
  fi
  if [ -z "$group" ]; then
    echo "$name: NOT limited (no writable memory cgroup; run as root or inside a limit)" >> "$out/limits.txt"
    "$@"
    return
  fi
  echo "$name: memory cgroup limit $bytes bytes ($group)" >> "$out/limits.txt"
  local status=0
  sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$group" "$@" || status=$?
  rmdir "$group" 2>/dev/null || true
  return $status
}

bench() { # NAME LIMIT_BYTES|none ARGS...: the JSON in OUT_DIR/NAME.json, the table on the terminal
  local name=$1 bytes=$2
  shift 2
  echo "== $name (limit: $bytes): sida bench $*"
  local command=("$sida" bench --data "$dev" --threads "$threads" --io "$io" --device cpu "$@" --json)
  if [ "$bytes" = none ]; then
    "${command[@]}" > "$out/$name.json"
  else
    limited "$bytes" "$name" "${command[@]}" > "$out/$name.json"
  fi
}

gib() { echo $(( $1 * 1024 * 1024 * 1024 )); }

# The disk's sequential read bandwidth on the checkpoint itself, bypassing the page cache.
bandwidth() { # FILE -> OUT_DIR/bandwidth.txt (MB/s)
  sync
  dd if="$1" of=/dev/null bs=4M iflag=direct 2>&1 | tail -1 | tee "$out/bandwidth-dd.txt"
  python3 - "$out/bandwidth-dd.txt" > "$out/bandwidth.txt" <<'EOF'
import re, sys
line = open(sys.argv[1]).read()
m = re.search(r"(\d+) bytes.*?copied, ([\d.]+) s", line)
print(f"{int(m.group(1)) / float(m.group(2)) / 1e6:.1f}")
EOF
  echo "dd iflag=direct bs=4M: $(cat "$out/bandwidth.txt") MB/s"
}

synthetic=(--synthetic switch-base-128 --dtype bfloat16 --limit "$limit")

if wants bandwidth || wants base128 || wants base128-small; then
  # Makes (or reuses) the model first, unlimited, so that no limited run pays for writing it.
  bench base128-make none "${synthetic[@]}" --limit 8 --policy ondemand --budget 10% --host-budget 10%
  shard=$(ls -S "$cache"/switch-base-128*/model-*.safetensors | head -1)
  bandwidth "$shard"
fi

for batch in 8 1; do
  if wants base128; then
    # Compute with the whole model in RAM: standard, no limit, caches warm after the warm-up.
    bench "base128-ram-b$batch" none "${synthetic[@]}" --batch "$batch" --policy standard
    bench "base128-6g-b$batch" "$(gib 6)" "${synthetic[@]}" --batch "$batch" --budget 10% --host-budget 50% \
      --compare sida,ondemand
  fi
  if wants base128-small; then
    bench "base128-3g-b$batch" "$(gib 3)" "${synthetic[@]}" --batch "$batch" --budget 5% --host-budget 10% \
      --compare sida,ondemand
  fi
  if wants bundled; then
    bench "bundled-b$batch" none resources/models/sst2-switch --batch "$batch" --budget 25% --host-budget 50% \
      --compare sida,ondemand
  fi
done

if wants large128; then
  bench large128-make none --synthetic switch-large-128 --dtype bfloat16 --limit 8 --policy ondemand
  bench large128 "$(gib 23)" --synthetic switch-large-128 --dtype bfloat16 --limit "$limit" --batch 8 \
    --policy ondemand
fi

python3 tests/bench/summarize_disk_benchmarks.py "$out" | tee "$out/summary.txt"
