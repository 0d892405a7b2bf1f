"""Benchmark: fan-out, one node shares a 10,000-person tag with 50 subscriber nodes.

    python benchmarks/bench_fanout.py --rows 10000 --subscribers 50 --changes 1000
    python benchmarks/bench_fanout.py --rows 2000 --subscribers 3 --changes 200   # CI

The granter (a prepared source node, see synclib) runs as a real `tagshare serve`
subprocess. To fit a 2-core machine, the 50 subscribers run in a few other processes
(`--subscriber-processes`, default 2, this script with --serve-subscribers): each runs
its share of the 50 `node.server.create_app(node, sync=True)` aiohttp apps, each app
with its own database, sync worker and DB thread, on its own port of 127.0.0.1: real
HTTP, real databases. In production every subscriber is a process (and a machine) of
its own; packing all 50 into ONE process makes them take turns on one GIL, which
`--subscriber-processes 1` measures. This process orchestrates:
it pairs each subscriber with the granter by invite (auto-accept), grants all 50
shares (`all`, all fields) back to back through node/'s API, and times until every
subscriber holds all N people (each database polled read-only, incrementally).
Then it changes `--changes` people on the granter in one transaction (first name
set to a unique token) and times until all 50 show every token. Runs `--runs`
rounds of edits (median, min, max).

Target: all 50 converge on 1,000 edits within 5 s. Exit 1 if any subscriber
misses a person or an edit.
"""

import argparse
import asyncio
import json
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import synclib
from synclib import BenchError, log

from tagshare.node import normalize
from tagshare.node import shares as share_ops
from tagshare.node.client import FederationClient
from tagshare.node.clock import system_clock
from tagshare.node.node import init_node, open_node
from tagshare.node.pairing import create_invite, join
from tagshare.node.storage import db
from tagshare.node.storage import people as people_store

TARGET_EDITS_S = 5.0


# -- the subscribers' process -------------------------------------------------------------


async def serve_subscribers(spec_path: Path) -> None:
    from aiohttp import web

    from tagshare.node.server import create_app

    spec = json.loads(spec_path.read_text())
    runners = []
    for entry in spec:
        node = open_node(Path(entry["home"]))
        app = create_app(node, sync=True)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, synclib.HOST, entry["port"]).start()
        runners.append((runner, node))
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for runner, node in runners:
        await runner.cleanup()
        node.close()


# -- the orchestrator ---------------------------------------------------------------------


class Subscriber:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.node_id = ""
        self.counter: synclib.Counter | None = None


async def pair_all(granter: Path, subs: list[Subscriber]) -> None:
    client = FederationClient()
    inviter = open_node(granter)
    try:
        for sub in subs:
            token = create_invite(inviter, timedelta(minutes=30), system_clock())
            joiner = open_node(sub.home)
            try:
                await join(joiner, token.encode(), alias=None, auto_accept=True, client=client,
                           now=system_clock())
                sub.node_id = joiner.node_id
            finally:
                joiner.close()
    finally:
        inviter.close()
        await client.close()


def wait_all_counts(subs: list[Subscriber], rows: int, started: float, timeout: float,
                    processes: list[subprocess.Popen[bytes]]) -> dict[str, float]:
    done: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(subs):
        for sub in subs:
            if sub.node_id not in done and sub.counter is not None and \
                    sub.counter.poll() >= rows:
                done[sub.node_id] = time.monotonic() - started
        if time.monotonic() > deadline:
            behind = {s.home.name: s.counter.count for s in subs
                      if s.node_id not in done and s.counter}
            raise BenchError(f"initial fan-out incomplete after {timeout:.0f}s: {behind}")
        if any(p.poll() is not None for p in processes):
            raise BenchError("a serving process died")
        time.sleep(0.05)
    return done


def wait_all_tokens(subs: list[Subscriber], origin: str, tokens: dict[str, str],
                    committed: float, timeout: float) -> dict[str, float]:
    """Per subscriber: check one remaining token first, and all remaining ones only when it
    arrived (a batch carries many), so a poll round over 50 databases stays cheap."""
    conns = {s.node_id: synclib.ro(s.home) for s in subs}
    remaining = {s.node_id: dict(tokens) for s in subs}
    done: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(done) < len(subs):
            for sub in subs:
                left = remaining[sub.node_id]
                if sub.node_id in done:
                    continue
                conn = conns[sub.node_id]
                first = next(iter(left))
                row = conn.execute("SELECT first_name FROM people WHERE origin = ? AND "
                                   "origin_uuid = ?", (origin, first)).fetchone()
                if row is None or row[0] != left[first]:
                    continue
                synclib.drop_arrived(conn, origin, left)
                if not left:
                    done[sub.node_id] = time.monotonic() - committed
            if time.monotonic() > deadline:
                raise BenchError(f"{len(subs) - len(done)} subscribers missed edits after "
                                 f"{timeout:.0f}s")
            time.sleep(0.01)
    finally:
        for conn in conns.values():
            conn.close()
    return done


def start_subscribers(work: Path, spec: list[dict[str, object]],
                      number: int) -> subprocess.Popen[bytes]:
    """One process serving the subscribers in `spec`, once it says "ready". Ports are
    picked before the process binds them, so another process may take one meanwhile:
    then the chunk gets new ports (and configs to match) and starts again, like
    synclib.serve does."""
    log_path = work / f"subscribers-{number}.log"
    for _attempt in range(3):
        spec_path = work / f"subscribers-{number}.json"
        spec_path.write_text(json.dumps(spec))
        with log_path.open("wb") as log_file:
            child = subprocess.Popen(
                [synclib.PYTHON, __file__, "--serve-subscribers", str(spec_path)],
                stdout=subprocess.PIPE, stderr=log_file, cwd=synclib.REPO,
                start_new_session=True)
        assert child.stdout is not None
        if child.stdout.readline().strip() == b"ready":
            return child
        stop_child(child)
        tail = log_path.read_text(errors="replace")[-2000:]
        if "in use" not in tail:
            raise BenchError(f"subscribers did not start:\n{tail}")
        for entry in spec:
            entry["port"] = synclib.free_port()
            synclib.set_url(Path(str(entry["home"])), int(str(entry["port"])))
    raise BenchError(f"subscribers did not start: no free ports (see {log_path})")


def stop_child(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(args: argparse.Namespace, work: Path) -> int:
    source = synclib.prepared_source(args.rows, args.seed, args.cache)
    granter = synclib.copy_home(source, work / "granter")
    subs = []
    spec = []
    started = time.perf_counter()
    for i in range(args.subscribers):
        port = synclib.free_port()
        home = work / f"sub{i:02d}"
        init_node(home, name=f"Subscriber {i:02d}", url=f"http://{synclib.HOST}:{port}").close()
        subs.append(Subscriber(home))
        spec.append({"home": str(home), "port": port})
    log(f"created {args.subscribers} subscriber nodes in {time.perf_counter() - started:.1f}s")
    server = synclib.serve(granter)
    children: list[subprocess.Popen[bytes]] = []
    try:
        for k in range(min(args.subscriber_processes, len(spec))):
            children.append(start_subscribers(work, spec[k::args.subscriber_processes], k))
        asyncio.run(pair_all(granter, subs))
        origin = synclib.node_id(granter)
        for sub in subs:
            sub.counter = synclib.Counter(sub.home, origin)
        op = open_node(granter)
        started = time.monotonic()
        for sub in subs:
            share_ops.grant_share(op, tag=synclib.SHARED_TAG, peer=sub.node_id, fields="all",
                                  on_revoke="purge", note=None)
        initial = wait_all_counts(subs, args.rows, started, args.timeout,
                                  [server.process, *children])
        initial_all = max(initial.values())
        log(f"initial fan-out: all {len(subs)} hold {args.rows:,} people after "
            f"{initial_all:.2f}s (first {min(initial.values()):.2f}s)")
        for sub in subs:
            counts = synclib.counts_from(sub.home, origin)
            if counts["people"] != args.rows:
                raise BenchError(f"{sub.home.name} holds {counts}")
        uuids = [r[0] for r in op.conn.execute("SELECT uuid FROM people WHERE origin IS NULL")]
        rng = random.Random(args.seed)
        rounds = []
        for number in range(args.runs):
            time.sleep(1.0)
            tokens = {u: f"Fan{number}r{i:05d}" for i, u in
                      enumerate(rng.sample(uuids, args.changes))}
            now = normalize.now_iso()
            cpu_before = server.cpu_s()
            with db.transaction(op.conn) as conn:
                for uuid, token in tokens.items():
                    people_store.update_person(conn, uuid, {"first_name": token}, now)
            committed = time.monotonic()
            times = wait_all_tokens(subs, origin, tokens, committed, args.timeout)
            rounds.append({"all_s": max(times.values()), "first_s": min(times.values()),
                           "median_s": sorted(times.values())[len(times) // 2],
                           "granter_cpu_s": server.cpu_s() - cpu_before})
            log(f"edits round {number + 1}/{args.runs}: {args.changes} edits reached all "
                f"{len(subs)} in {rounds[-1]['all_s']:.2f}s (first {rounds[-1]['first_s']:.2f}s"
                f", granter CPU {rounds[-1]['granter_cpu_s']:.2f}s)")
        op.close()
        rss = {"granter_mb": server.peak_rss_mb(),
               "subscribers_process_mb": max(rss_mb(child.pid) for child in children)}
    finally:
        server.stop()
        for child in children:
            stop_child(child)
        for sub in subs:
            if sub.counter is not None:
                sub.counter.close()
    edits = synclib.summary([r["all_s"] for r in rounds])
    result = {
        "benchmark": "fanout", "rows": args.rows, "subscribers": args.subscribers,
        "changes": args.changes, "runs": args.runs,
        "subscriber_processes": len(children),
        "initial_all_s": initial_all, "initial_first_s": min(initial.values()),
        "initial_people_per_s": args.rows * args.subscribers / initial_all,
        "edits_all_s": edits, "rounds": rounds, "peak_rss_mb": rss,
        "targets": {"edits_all_s": TARGET_EDITS_S},
        "met": {"edits_all_s": edits["median"] <= TARGET_EDITS_S},
    }
    print(f"\nfan-out: one granter, {args.subscribers} subscribers, {args.rows:,} people")
    print(f"  initial: all hold everything after {initial_all:.2f}s "
          f"({result['initial_people_per_s']:,.0f} people/s written in total)")
    print(f"  {args.changes} edits: all converged after median {edits['median']:.2f}s "
          f"(min {edits['min']:.2f}, max {edits['max']:.2f}); target <= {TARGET_EDITS_S:.0f}s "
          f"{'met' if result['met']['edits_all_s'] else 'MISSED'}")
    print(f"  peak RSS: granter {rss['granter_mb']:.0f} MB, the largest of "
          f"{len(children)} subscriber processes {rss['subscribers_process_mb']:.0f} MB")
    synclib.write_json(f"fanout-{args.subscribers}", result, args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--subscriber-processes", type=int, default=2,
                        help="processes the subscribers are spread over (one GIL each)")
    synclib.add_common_options(parser)
    parser.add_argument("--serve-subscribers", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_subscribers:
        asyncio.run(serve_subscribers(args.serve_subscribers))
        return 0
    return synclib.run_in_workspace(args, "bench_fanout", run)


if __name__ == "__main__":
    sys.exit(main())
