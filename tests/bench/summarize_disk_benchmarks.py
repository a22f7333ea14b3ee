#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The disk-tier goals, judged from the JSON that run_disk_benchmarks.sh left in OUT_DIR."""
import json
import math
import pathlib
import sys

out = pathlib.Path(sys.argv[1])
MIB = 1 << 20
WARMUP_BATCHES = 2  # sida bench's default --warmup


def load(name):
    path = out / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() and path.stat().st_size else None


def runs(report):
    return {r["policy"]: r for r in report["runs"]}


def batches(report, run):
    # Disk figures run from each policy's start: the warm-up batches are in them.
    return math.ceil(run["samples"] / report["batch"]) + WARMUP_BATCHES


bandwidth = float((out / "bandwidth.txt").read_text()) * 1e6 if (out / "bandwidth.txt").exists() else None
if bandwidth:
    print(f"disk: dd iflag=direct bs=4M on the checkpoint: {bandwidth / 1e6:.1f} MB/s\n")
limits = (out / "limits.txt").read_text() if (out / "limits.txt").exists() else ""
if "NOT limited" in limits:
    print("WARNING: some runs were not memory-limited (see limits.txt)\n")

for name in sorted(p.stem for p in out.glob("*.json")):
    report = load(name)
    if not report or name.endswith("-make") or "-ram-" in name:
        continue
    by_policy = runs(report)
    print(f"== {name}: batch {report['batch']}, device budget {report['device_budget']}, host budget "
          f"{report['host_budget']}, queue {report['queue_depth']}, I/O {report['io']}, memory limit "
          f"{report['memory_limit_bytes'] / MIB:.0f} MiB, {report['threads']} thread(s)")
    print(f"   {'policy':<9} {'samples/s':>9} {'batch ms':>9} {'read MiB':>9} {'optimal':>9} {'x opt':>6} "
          f"{'exposed s':>9} {'hidden s':>8} {'peak RSS MiB':>12} {'budgets+weights':>15} {'errors':>6}")
    for policy, r in by_policy.items():
        held = (report["non_expert_bytes"] + r["budget_bytes"] + r["host_budget_bytes"]) / MIB
        ratio = r["disk_bytes_read"] / r["disk_bytes_read_optimal"] if r["disk_bytes_read_optimal"] else float("nan")
        print(f"   {policy:<9} {r['samples_per_second']:>9.2f} {r['batch_ms']:>9.1f} {r['disk_bytes_read'] / MIB:>9.0f} "
              f"{r['disk_bytes_read_optimal'] / MIB:>9.0f} {ratio:>6.2f} {r['disk_read_seconds_exposed']:>9.2f} "
              f"{r['disk_read_seconds_hidden']:>8.2f} {r['peak_rss_bytes'] / MIB:>12.0f} {held:>15.0f} {r['errors']:>6}")
    if "sida" in by_policy and "ondemand" in by_policy:
        s, o = by_policy["sida"], by_policy["ondemand"]
        print(f"   sida / ondemand: throughput {s['samples_per_second'] / o['samples_per_second']:.2f}x, "
              f"disk reads {s['disk_bytes_read'] / max(1, o['disk_bytes_read']):.2f}x")
        # The compute bound: the same model's standard run with every expert in RAM, where there is one.
        ram_name = name.replace("-6g-", "-ram-").replace("-3g-", "-ram-")
        ram = load(ram_name) if ram_name != name else None
        if ram and bandwidth:
            compute = runs(ram)["standard"]["batch_ms"]
            per_batch = s["disk_bytes_read"] / batches(report, s)
            disk_ms = 1000 * per_batch / bandwidth
            bound = max(compute, disk_ms)
            print(f"   sida batch {s['batch_ms']:.1f} ms against the bound max(compute {compute:.1f} ms with the "
                  f"model in RAM, {per_batch / MIB:.1f} MiB / disk bandwidth = {disk_ms:.1f} ms) = {bound:.1f} ms: "
                  f"{s['batch_ms'] / bound:.2f}x")
    print()
