"""Benchmark: incremental cost, 1,000 changes on a large node vs on a small one.

    python benchmarks/bench_incremental.py --rows 1000 1000000 --changes 1000 --runs 3
    python benchmarks/bench_incremental.py --rows 1000 2000 --runs 1     # CI

For each N: A (a prepared source node with N people, see synclib) and a fresh B run
as `tagshare serve` processes on 127.0.0.1, paired, and A grants B `all` with all
fields; the initial sync completes (and A's outbox drains). Then B's URL in A's
`peers` table is pointed at a byte-counting TCP proxy on 127.0.0.1 (in this process)
that forwards to B, so every byte A sends B (HTTP requests: headers and signed,
encrypted bodies) and B answers (acks) is counted. Each run changes `--changes`
distinct (random) people on A (first name set to a unique token) in ONE transaction through
node/'s storage API on a connection of its own, and times from that commit until
B's database (read-only; looked up by origin uuid each time B commits) shows every token. The runs
start once B has finished the housekeeping that follows a first sync (the search index
compacted, then --settle seconds): they measure an edit's steady cost.

Reports time and bytes per N, and the ratio largest N / smallest N (target: time
within 2x). Exit 1 if a change never arrives.
"""

import argparse
import random
import shutil
import sys
import time
from pathlib import Path

import synclib
from synclib import BenchError, log

from tagshare.node import normalize
from tagshare.node.node import open_node
from tagshare.node.storage import db, search
from tagshare.node.storage import people as people_store

TARGET_RATIO = 2.0


def wait_tokens(home: Path, origin: str, expected: dict[str, str], timeout: float) -> float:
    """Poll B until every origin uuid shows its token; the monotonic time that was seen.

    The tokens are looked up only after B has committed something (`PRAGMA data_version`
    on this connection changes then, and asking costs microseconds): looking up 1,000
    people every 10 ms costs next to nothing on a 1,000-person node but took a good part of
    a core on a 1,000,000-person one, which B then lacked while it applied the batch."""
    conn = synclib.ro(home)
    try:
        waiting = dict(expected)
        deadline = time.monotonic() + timeout
        seen_version = None
        while waiting:
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if version != seen_version:
                seen_version = version
                synclib.drop_arrived(conn, origin, waiting)
                if not waiting:
                    break
            if time.monotonic() > deadline:
                raise BenchError(f"{len(waiting)} of {len(expected)} changes never reached B")
            time.sleep(0.002)
        return time.monotonic()
    finally:
        conn.close()


def wait_drained(home: Path, timeout: float = 60) -> None:
    conn = synclib.ro(home)
    try:
        deadline = time.monotonic() + timeout
        while conn.execute("SELECT count(*) FROM pending").fetchone()[0]:
            if time.monotonic() > deadline:
                raise BenchError("A's outbox did not drain")
            time.sleep(0.05)
    finally:
        conn.close()


def wait_settled(home: Path, settle: float, timeout: float = 300) -> float:
    """Wait until B has compacted its search index after the first sync (it does so once
    it has been quiet for a moment, node/server.py), then `settle` seconds more for its
    last checkpoints; returns the seconds waited. The runs measure the steady cost of an
    edit, not the housekeeping that follows a bulk load."""
    started = time.monotonic()
    conn = synclib.ro(home)
    try:
        while True:
            row = conn.execute("SELECT value FROM meta WHERE key = 'search_added'").fetchone()
            if int(row[0] if row and row[0] else 0) < search.COMPACT_AFTER:
                break
            if time.monotonic() - started > timeout:
                raise BenchError("B did not compact its search index after the first sync")
            time.sleep(0.1)
    finally:
        conn.close()
    time.sleep(settle)
    return time.monotonic() - started


def bench_rows(args: argparse.Namespace, rows: int, work: Path) -> dict[str, object]:
    source = synclib.prepared_source(rows, args.seed, args.cache)
    a = synclib.copy_home(source, work / f"a-{rows}")
    b = synclib.new_node(work / f"b-{rows}", "Bench Receiver")
    servers: list[synclib.Server] = []
    proxy = None
    runs = []
    try:
        sa, sb = synclib.serve_and_pair(a, b, servers)
        a_id, b_id = synclib.node_id(a), synclib.node_id(b)
        counter = synclib.Counter(b, a_id)
        started = time.monotonic()
        synclib.grant(a, b_id)
        synclib.wait_count(counter, rows, timeout=args.timeout, servers=(sa, sb))
        counter.close()
        initial = time.monotonic() - started
        wait_drained(a)
        log(f"N={rows:,}: initial sync in {initial:.2f}s")
        settled = wait_settled(b, args.settle)
        log(f"N={rows:,}: B settled after {settled:.2f}s")
        proxy = synclib.CountingProxy(sb.port)
        synclib.point_peer_at(a, b_id, proxy.port)
        editor = open_node(a)
        uuids = [r[0] for r in editor.conn.execute(
            "SELECT uuid FROM people WHERE origin IS NULL")]
        rng = random.Random(args.seed)
        for number in range(args.runs):
            time.sleep(0.5)  # let the previous round's acks settle
            proxy.reset()
            chosen = rng.sample(uuids, args.changes)
            tokens = {u: f"Inc{number}r{i:05d}" for i, u in enumerate(chosen)}
            now = normalize.now_iso()
            with db.transaction(editor.conn) as conn:
                for uuid, token in tokens.items():
                    people_store.update_person(conn, uuid, {"first_name": token}, now)
            committed = time.monotonic()
            seen = wait_tokens(b, a_id, tokens, args.timeout)
            wait_drained(a)
            time.sleep(0.2)  # the last ack's bytes
            run = {"wall_s": seen - committed, "bytes_sent": proxy.up,
                   "bytes_acked": proxy.down, "requests": proxy.requests}
            log(f"N={rows:,} run {number + 1}/{args.runs}: {args.changes} changes in "
                f"{run['wall_s'] * 1000:.0f} ms, {proxy.up:,} bytes sent in "
                f"{proxy.requests} requests, {proxy.down:,} bytes back")
            runs.append(run)
        editor.close()
    finally:
        for server in servers:
            server.stop()
        if proxy is not None:
            proxy.close()
        if not args.keep:
            shutil.rmtree(a, ignore_errors=True)
            shutil.rmtree(b, ignore_errors=True)
    return {"rows": rows, "initial_sync_s": initial, "settled_s": settled,
            "wall_s": synclib.summary([r["wall_s"] for r in runs]),
            "bytes_sent": synclib.summary([float(r["bytes_sent"]) for r in runs]),
            "bytes_acked": synclib.summary([float(r["bytes_acked"]) for r in runs]),
            "requests": synclib.summary([float(r["requests"]) for r in runs]),
            "runs_detail": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000, 1_000_000])
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds to wait after B's post-sync compaction (default 2)")
    synclib.add_common_options(parser)
    args = parser.parse_args(argv)
    if min(args.rows) < args.changes:
        raise SystemExit(f"--changes {args.changes} is more than the smallest --rows")
    with synclib.workspace(args, "tagshare-bench-incremental-") as work:
        try:
            sizes = [bench_rows(args, rows, work) for rows in args.rows]
        except BenchError as exc:
            log(f"bench_incremental: {exc}")
            return 1
    small, large = sizes[0], sizes[-1]
    ratio = large["wall_s"]["median"] / small["wall_s"]["median"]
    bytes_ratio = large["bytes_sent"]["median"] / small["bytes_sent"]["median"]
    print(f"\nincremental sync: {args.changes} changes, {args.runs} runs each")
    print(f"{'N':>10} {'time median':>12} {'min':>9} {'max':>9} {'bytes sent':>12} "
          f"{'requests':>9} {'bytes back':>11}")
    for s in sizes:
        w = s["wall_s"]
        print(f"{s['rows']:>10,} {w['median'] * 1000:>10.0f}ms {w['min'] * 1000:>7.0f}ms "
              f"{w['max'] * 1000:>7.0f}ms {s['bytes_sent']['median']:>12,.0f} "
              f"{s['requests']['median']:>9.0f} {s['bytes_acked']['median']:>11,.0f}")
    print(f"ratio {large['rows']:,} / {small['rows']:,}: time {ratio:.2f}x "
          f"(target <= {TARGET_RATIO:.0f}x: {'met' if ratio <= TARGET_RATIO else 'MISSED'}), "
          f"bytes {bytes_ratio:.2f}x")
    synclib.write_json(f"incremental-{'-'.join(str(r) for r in args.rows)}", {
        "benchmark": "incremental", "changes": args.changes, "runs": args.runs,
        "sizes": sizes, "ratio": {"time": ratio, "bytes": bytes_ratio},
        "targets": {"time_ratio": TARGET_RATIO}, "met": {"time_ratio": ratio <= TARGET_RATIO},
    }, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
