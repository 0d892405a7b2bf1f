#!/usr/bin/env bash
# Run every benchmark. `--quick`: a small, fast version of each (CI runs this
# only to prove the benchmarks still work; its figures mean nothing).
# Without it: the full sizes whose figures go into docs/performance.md.
# Results are printed and written as JSON under benchmarks/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3

quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; fi

run() { echo "== $*" >&2; "$PY" "$@"; }

if [ "$quick" = 1 ]; then
    run benchmarks/bench_import.py --rows 2000 --runs 1
else
    run benchmarks/bench_import.py --rows 1000000 --runs 3
fi
# Later benchmarks (initial sync, propagation latency, incremental, fan-out,
# memory) are added here, each with a quick and a full size.
