"""Benchmark: erasing people one transaction each, between edits (issue 15).

    python benchmarks/bench_erasures.py --rows 50000 --erasures 200 --runs 3

The statewide party's 10,000 changes hold 1,000 erasures, each its own transaction,
interleaved with edits; every erasing transaction once rewrote the whole search index
(FTS5 `optimize`, node/storage/search.py). Per run: a copy of the cached prepared
source node (synclib.prepared_source: N people, as bench_sync uses), opened in
process; then, timed, `--erasures` pairs of `people.erase_person` and
`people.edit_person` of two other people (a transaction each), then `Node.close`
(which purges what is still due). Checked after each run: the erased people are gone
and no search-index purge is still due.
"""

import argparse
import contextlib
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import synclib
from synclib import BenchError, log

from tagshare.node import people as people_ops
from tagshare.node.node import open_node


def one_run(source: Path, work: Path, erasures: int) -> dict[str, float]:
    home = synclib.copy_home(source, work / "node")
    try:
        node = open_node(home)
        uuids = [row[0] for row in node.conn.execute(
            "SELECT uuid FROM people ORDER BY rowid LIMIT ?", (2 * erasures,))]
        if len(uuids) < 2 * erasures:
            raise BenchError(f"the source holds fewer than {2 * erasures} people")
        erased, edited = uuids[:erasures], uuids[erasures:]
        started, cpu = time.perf_counter(), time.process_time()
        for n, (gone, kept) in enumerate(zip(erased, edited, strict=True)):
            people_ops.erase_person(node, gone)
            people_ops.edit_person(node, kept, {"last_name": f"Edited{n}"})
        changed = time.perf_counter() - started
        node.close()
        result = {"changes_s": changed, "with_close_s": time.perf_counter() - started,
                  "cpu_s": time.process_time() - cpu}
        check(home, erased)
        return result
    finally:
        shutil.rmtree(work / "node", ignore_errors=True)


def check(home: Path, erased: list[str]) -> None:
    with contextlib.closing(sqlite3.connect(home / "node.db")) as conn:
        left = conn.execute(f"SELECT count(*) FROM people WHERE uuid IN "
                            f"({','.join('?' * len(erased))})", erased).fetchone()[0]
        flagged = conn.execute("SELECT count(*) FROM people_search_erased").fetchone()[0]
    if left or flagged:
        raise BenchError(f"{left} erased people left, search purge still due: {bool(flagged)}")


def run(args: argparse.Namespace, work: Path) -> int:
    source = synclib.prepared_source(args.rows, args.seed, args.cache)
    runs = []
    for n in range(args.runs):
        runs.append(one_run(source, work, args.erasures))
        log(f"run {n + 1}/{args.runs}: {args.erasures} erase+edit pairs in "
            f"{runs[-1]['changes_s']:.2f}s ({runs[-1]['with_close_s']:.2f}s with the "
            f"closing purge), CPU {runs[-1]['cpu_s']:.2f}s")
    result: dict[str, Any] = {
        "benchmark": "erasures", "rows": args.rows, "erasures": args.erasures,
        "runs": runs, "machine": synclib.machine(),
        **{key: synclib.summary([r[key] for r in runs])
           for key in ("changes_s", "with_close_s", "cpu_s")}}
    median = result["changes_s"]["median"]
    print(f"\n{args.erasures} erasures between edits on {args.rows:,} people: median "
          f"{median:.2f}s ({median / args.erasures * 1000:.1f} ms a pair), "
          f"{args.runs} runs")
    synclib.write_json(f"erasures-{args.rows}", result, args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--erasures", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    synclib.add_common_options(parser)
    args = parser.parse_args(argv)
    return synclib.run_in_workspace(args, "bench_erasures", run)


if __name__ == "__main__":
    sys.exit(main())
