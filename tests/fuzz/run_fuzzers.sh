#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the `fuzz` preset and runs every fuzz target for SECONDS (default 60) from its seed
# corpus (tests/fuzz/corpus/<target>, which also holds the crash inputs of fixed bugs).
# Fails on the first crash, leak, timeout or out-of-memory; prints, per target, the executions
# and the coverage reached (libFuzzer's final "#N DONE cov: C ft: F" line).
#
#   tests/fuzz/run_fuzzers.sh [SECONDS]
#
# New inputs go to build/fuzz/corpus/<target>, never into the committed seeds; a failing input is
# saved as build/fuzz/artifacts/<target>-crash-... (reproduce: build/fuzz/fuzz/<target> FILE).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

seconds="${1:-60}"
targets=(fuzz_safetensors_header fuzz_safetensors_index fuzz_config fuzz_dataset
         fuzz_predictor_metadata fuzz_tokenizer)
declare -A dictionary=(
  [fuzz_safetensors_header]=safetensors.dict [fuzz_safetensors_index]=json.dict
  [fuzz_config]=json.dict [fuzz_predictor_metadata]=json.dict
  [fuzz_dataset]=dataset.dict [fuzz_tokenizer]=tokenizer.dict)

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

build=build/fuzz
mkdir -p "$build/corpus" "$build/artifacts" "$build/logs"
# Every UBSan report is fatal (the preset builds with -fno-sanitize-recover) and comes with a stack.
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1"

summary=()
failed=()
for target in "${targets[@]}"; do
  echo "== $target: ${seconds} s"
  mkdir -p "$build/corpus/$target"
  log="$build/logs/$target.log"
  status=0
  "$build/fuzz/$target" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -detect_leaks=1 \
    -print_final_stats=1 -dict="tests/fuzz/${dictionary[$target]}" \
    -artifact_prefix="$build/artifacts/$target-" \
    "$build/corpus/$target" "tests/fuzz/corpus/$target" >"$log" 2>&1 || status=$?
  done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)"
  if [[ $status -ne 0 || -z "$done_line" ]]; then
    tail -n 40 "$log"
    failed+=("$target (exit $status; log $log)")
    summary+=("$(printf '%-26s FAILED (exit %s)' "$target" "$status")")
    continue
  fi
  runs="$(sed -E 's/^#([0-9]+).*/\1/' <<<"$done_line")"
  cov="$(sed -E 's/.* cov: ([0-9]+).*/\1/' <<<"$done_line")"
  ft="$(sed -E 's/.* ft: ([0-9]+).*/\1/' <<<"$done_line")"
  rate="$(sed -E 's/.* exec\/s: ([0-9]+).*/\1/' <<<"$done_line")"
  echo "$done_line"
  summary+=("$(printf '%-26s %10s execs  %6s exec/s  cov %5s  ft %6s' "$target" "$runs" "$rate" "$cov" "$ft")")
done

echo "== fuzzing summary (${seconds} s per target, $(nproc) cores, $(uname -m))"
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]}" >&2
  exit 1
fi
