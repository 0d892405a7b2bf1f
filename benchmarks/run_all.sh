#!/usr/bin/env bash
# Run every benchmark. `--quick`: a small, fast version of each (CI runs this
# only to prove the benchmarks still work; its figures mean nothing).
# Without it: the full sizes whose figures go into docs/performance.md.
# Results are printed and written as JSON under benchmarks/out/. The sync
# benchmarks cache prepared source nodes in $TAGSHARE_BENCH_CACHE
# (default /tmp/tagshare-bench-cache; the 1,000,000-person one is about 1 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3

quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; fi

run() { echo "== $*" >&2; "$PY" "$@"; }

if [ "$quick" = 1 ]; then
    run benchmarks/bench_import.py --rows 2000 --runs 1
    run benchmarks/bench_import_floor.py --rows 2000 --runs 1
    run benchmarks/bench_codec.py --items 100 --repeat 2
    run benchmarks/bench_sync.py --rows 2000 --runs 1
    run benchmarks/bench_sync_floor.py --rows 2000 --runs 1
    run benchmarks/bench_latency.py --rows 2000 --seconds 5 --json benchmarks/out/latency-quick.json
    run benchmarks/bench_incremental.py --rows 1000 2000 --changes 200 --runs 1
    run benchmarks/bench_fanout.py --rows 2000 --subscribers 3 --changes 200 --runs 1
    run benchmarks/bench_statewide.py --nodes 6 --people 2000 --volunteers 600 --changes 200 \
        --edits 5 --knocks 5 --settle 1 --idle-seconds 5 --json benchmarks/out/statewide-quick.json
    run benchmarks/bench_erasures.py --rows 2000 --erasures 20 --runs 1
else
    # Import vs the sqlite3 shell's .import and vs sqlite-utils insert --csv, side by
    # side (sqlite-utils alone takes about 100 s a run at 1,000,000 rows).
    run benchmarks/bench_import.py --rows 100000 --runs 3
    run benchmarks/bench_import.py --rows 1000000 --runs 3
    # What SQLite alone needs for the same rows in a node-like schema (no tagshare code).
    run benchmarks/bench_import_floor.py --rows 1000000 --runs 3
    # The protocol's own cost per person of a batch, in process.
    run benchmarks/bench_codec.py --items 1000 --repeat 20
    # Initial sync vs the CSV copy, and peak RSS of both nodes (measure 5).
    run benchmarks/bench_sync.py --rows 100000 1000000 --runs 3
    # What SQLite alone needs to write a subscriber's rows (no tagshare Python, HTTP or
    # crypto), against the same CSV copy, plus the protocol's cost at the chunk size.
    run benchmarks/bench_codec.py --items 5000 --repeat 20 --json benchmarks/out/codec-5000.json
    run benchmarks/bench_sync_floor.py --rows 100000 --runs 3 \
        --codec-json benchmarks/out/codec-5000.json
    run benchmarks/bench_sync_floor.py --rows 1000000 --runs 1 \
        --codec-json benchmarks/out/codec-5000.json
    run benchmarks/bench_latency.py --rows 10000 --rate 50 --seconds 30
    run benchmarks/bench_incremental.py --rows 1000 1000000 --changes 1000 --runs 3
    run benchmarks/bench_fanout.py --rows 10000 --subscribers 50 --changes 1000 --runs 3
    # The same with all 50 subscribers packed into one process (one GIL for all of them).
    run benchmarks/bench_fanout.py --rows 10000 --subscribers 50 --changes 1000 --runs 3 \
        --subscriber-processes 1 --json benchmarks/out/fanout-50-one-process.json
    # The statewide picture (issue 15): a party, counties and campaigns as real nodes.
    run benchmarks/bench_statewide.py --nodes 30 --json benchmarks/out/statewide-30.json
    run benchmarks/bench_statewide.py --nodes 100 --json benchmarks/out/statewide-100.json
    # Erasures between edits, each its own transaction (the statewide party's changes).
    run benchmarks/bench_erasures.py --rows 50000 --erasures 200 --runs 3
    # Plots for docs/performance.md (needs matplotlib in the venv; see benchmarks/plot.py).
    "$PY" benchmarks/plot.py || echo "plot.py failed (is matplotlib installed?)" >&2
fi
