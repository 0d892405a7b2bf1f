"""Benchmark: propagation latency, from a change's commit on A to its commit on B.

    python benchmarks/bench_latency.py --rows 10000 --rate 50 --seconds 30
    python benchmarks/bench_latency.py --rows 2000 --seconds 5        # CI: proves it works

A (a prepared source node, see synclib) and a fresh B run as real `tagshare serve`
processes on 127.0.0.1; B pairs with `--auto-accept`, A grants it `all` with all
fields, and the initial sync completes first. Then, for `--seconds`, a driver makes
`--rate` changes a second on A through node/'s Python API on a connection of its own
(`node.people.edit_person`, each its own transaction, as the CLI would): each change
sets a distinct random shared person's first name to a unique token, and the moment
edit_person returns (committed) is recorded. A watcher thread polls B's database on a
read-only connection every 2 ms for every outstanding token (one indexed query on
people(origin, origin_uuid)) and records when it is visible. Latency = visible on B
minus committed on A, one clock (time.monotonic in one process).

Prints p50/p95/p99/max; writes the raw latencies to benchmarks/out/latency.json.
Exit 1 if any change never arrives (within 30 s after the last one).
"""

import argparse
import random
import sys
import threading
import time
from pathlib import Path

import synclib
from synclib import log

from tagshare.node import people as people_ops
from tagshare.node.node import open_node

TARGET_P50_MS = 50.0
TARGET_P99_MS = 250.0
POLL = 0.002


class Watcher(threading.Thread):
    def __init__(self, home: Path, origin: str) -> None:
        super().__init__(daemon=True)
        self.conn = synclib.ro(home)
        self.origin = origin
        self.outstanding: dict[str, tuple[str, float]] = {}  # origin uuid -> (token, commit)
        self.latencies: dict[str, float] = {}  # token -> seconds
        self.lock = threading.Lock()
        self.stopping = False
        self.polls = 0

    def expect(self, uuid: str, token: str, committed: float) -> None:
        with self.lock:
            self.outstanding[uuid] = (token, committed)

    def run(self) -> None:
        while not self.stopping:
            with self.lock:
                waiting = dict(self.outstanding)
            if waiting:
                marks = ", ".join("?" * len(waiting))
                rows = self.conn.execute(
                    f"SELECT origin_uuid, first_name FROM people WHERE origin = ? "
                    f"AND origin_uuid IN ({marks})", (self.origin, *waiting)).fetchall()
                now = time.monotonic()
                self.polls += 1
                with self.lock:
                    for uuid, first in rows:
                        entry = self.outstanding.get(uuid)
                        if entry is not None and first == entry[0]:
                            self.latencies[entry[0]] = now - entry[1]
                            del self.outstanding[uuid]
            time.sleep(POLL)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    index = max(0, min(len(sorted_values) - 1, int(round(q / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=50.0, help="changes per second on A")
    parser.add_argument("--seconds", type=float, default=30.0)
    synclib.add_common_options(parser, json=synclib.OUT / "latency.json")
    args = parser.parse_args(argv)
    return synclib.run_in_workspace(args, "bench_latency", run)


def run(args: argparse.Namespace, work: Path) -> int:
    source = synclib.prepared_source(args.rows, args.seed, args.cache)
    a = synclib.copy_home(source, work / "a")
    b = synclib.new_node(work / "b", "Bench Receiver")
    servers: list[synclib.Server] = []
    try:
        sa, sb = synclib.serve_and_pair(a, b, servers)
        a_id, b_id = synclib.node_id(a), synclib.node_id(b)
        counter = synclib.Counter(b, a_id)
        started = time.monotonic()
        synclib.grant(a, b_id)
        synclib.wait_count(counter, args.rows, timeout=600, servers=(sa, sb))
        counter.close()
        log(f"initial sync of {args.rows:,} in {time.monotonic() - started:.2f}s")

        driver = open_node(a)
        uuids = [r[0] for r in driver.conn.execute(
            "SELECT uuid FROM people WHERE origin IS NULL ORDER BY uuid")]
        total = int(args.rate * args.seconds)
        chosen = random.Random(args.seed).sample(uuids, min(total, len(uuids)))
        watcher = Watcher(b, a_id)
        watcher.start()
        commit_ms: list[float] = []
        behind = 0
        begin = time.monotonic()
        for i, uuid in enumerate(chosen):
            due = begin + i / args.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.02:
                behind += 1
            token = f"Lat{i:06d}x{args.seed}"
            before = time.monotonic()
            people_ops.edit_person(driver, uuid, {"first_name": token})
            committed = time.monotonic()
            commit_ms.append((committed - before) * 1000)
            watcher.expect(uuid, token, committed)
        driving = time.monotonic() - begin
        deadline = time.monotonic() + 30
        while watcher.outstanding and time.monotonic() < deadline:
            time.sleep(0.05)
        watcher.stopping = True
        watcher.join()
        driver.close()
        rss = {"sender": sa.peak_rss_mb(), "receiver": sb.peak_rss_mb()}
    finally:
        for server in servers:
            server.stop()

    missing = len(watcher.outstanding)
    lat = sorted(v * 1000 for v in watcher.latencies.values())
    if missing or len(lat) != len(chosen):
        log(f"bench_latency: {missing} of {len(chosen)} changes never reached B")
        return 1
    stats = {"p50": percentile(lat, 50), "p95": percentile(lat, 95),
             "p99": percentile(lat, 99), "max": lat[-1], "min": lat[0],
             "mean": sum(lat) / len(lat)}
    commits = sorted(commit_ms)
    result = {
        "benchmark": "latency", "rows": args.rows, "rate": args.rate, "seconds": args.seconds,
        "changes": len(chosen), "achieved_rate": len(chosen) / driving,
        "driver_late": behind, "watcher_polls": watcher.polls,
        "latency_ms": stats,
        "commit_ms_on_a": {"p50": percentile(commits, 50), "p99": percentile(commits, 99),
                           "max": commits[-1]},
        "peak_rss_mb": rss,
        "targets": {"p50_ms": TARGET_P50_MS, "p99_ms": TARGET_P99_MS},
        "met": {"p50": stats["p50"] < TARGET_P50_MS, "p99": stats["p99"] < TARGET_P99_MS},
        "latencies_ms": [watcher.latencies[f"Lat{i:06d}x{args.seed}"] * 1000
                         for i in range(len(chosen))],
    }
    print(f"\npropagation latency: {len(chosen)} changes at {result['achieved_rate']:.1f}/s "
          f"on a {args.rows:,}-person share")
    print("  " + "  ".join(f"{k} {v:.1f} ms" for k, v in stats.items()))
    print(f"  targets: p50 < {TARGET_P50_MS:.0f} ms "
          f"{'met' if result['met']['p50'] else 'MISSED'}, p99 < {TARGET_P99_MS:.0f} ms "
          f"{'met' if result['met']['p99'] else 'MISSED'}")
    print(f"  commit of each edit on A: p50 {result['commit_ms_on_a']['p50']:.1f} ms, "
          f"max {result['commit_ms_on_a']['max']:.1f} ms")
    synclib.write_json("latency", result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
