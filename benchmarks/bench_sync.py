"""Benchmark: initial sync of N people between two `tagshare serve` processes, vs a CSV copy.
Also measure 5: peak RSS of both serve processes during the sync.

    python benchmarks/bench_sync.py --rows 100000 1000000 --runs 3
    python benchmarks/bench_sync.py --rows 2000 --runs 1          # CI: proves it works

Source node A (prepared once per N and cached, see synclib): N generated people
imported with `people import --tag all`, a door contact and a donation on every
fifth person. Each run copies A's home, makes a fresh node B, and, side by side
(order alternating between runs):

  baseline  the "CSV copy": the sqlite3 shell exports the same people (tagged `all`)
            from A's database to CSV (`.mode csv`, `.once`), then imports the file
            into a fresh database whose table has a UNIQUE index on the id column
            (`.import --csv`); the two steps are timed separately and summed;
  subject   A and B as real `tagshare serve` processes on 127.0.0.1, paired by
            invite (`peer add --auto-accept` on B); the clock starts just before
            `tagshare share grant --tag all --fields all` is launched on A and stops
            when B's database (polled read-only every 50 ms) holds N people whose
            origin is A. Just before the nodes stop, their peak RSS (VmHWM) and CPU
            time are read from /proc.

Checks (exit 1 if wrong): B holds exactly N people, N/5 contacts and N/5 donations
from A; the CSV copy holds N rows.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

import synclib
from synclib import BenchError, log

TARGET_RATIO = 3.0  # sync wall time at most 3x the CSV copy's (issue 14)
AIM_RATIO = 1.4  # the compass aim, reported alongside
TARGET_RSS_MB = 150.0
COLUMNS = ("uuid", "first_name", "last_name", "email", "phone", "address1", "address2",
           "city", "state", "zip")


def sqlite_shell(db: Path, script: str, *, readonly: bool = False) -> float:
    argv = ["sqlite3", *(["-readonly"] if readonly else []), str(db)]
    started = time.perf_counter()
    proc = subprocess.run(argv, input=script, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0 or proc.stderr.strip():
        raise BenchError(f"sqlite3 {db}: {proc.stderr.strip()[-1000:]}")
    return wall


def csv_copy(source: Path, work: Path) -> dict[str, float]:
    csv_path, target = work / "copy.csv", work / "copy.db"
    export = sqlite_shell(source / "node.db", (
        ".mode csv\n"
        f".once {csv_path}\n"
        f"SELECT {', '.join('p.' + c for c in COLUMNS)} FROM people p "
        "JOIN taggings t ON t.person = p.uuid JOIN tags g ON g.id = t.tag "
        f"WHERE g.name = '{synclib.SHARED_TAG}';\n"), readonly=True)
    load = sqlite_shell(target, (
        f"CREATE TABLE people ({', '.join(c + ' TEXT' for c in COLUMNS)});\n"
        "CREATE UNIQUE INDEX people_uuid ON people(uuid);\n"
        f".import --csv {csv_path} people\n"))
    rows = int(subprocess.run(["sqlite3", str(target), "SELECT count(*) FROM people"],
                              capture_output=True, text=True).stdout.strip())
    csv_bytes, db_bytes = csv_path.stat().st_size, target.stat().st_size
    csv_path.unlink()
    target.unlink()
    return {"export_s": export, "import_s": load, "wall_s": export + load, "rows": rows,
            "csv_bytes": csv_bytes, "db_bytes": db_bytes}


def checked_csv_copy(source: Path, work: Path, rows: int) -> dict[str, float]:
    """csv_copy, which must have copied all `rows` people (BenchError if not)."""
    copied = csv_copy(source, work)
    if copied["rows"] != rows:
        raise BenchError(f"CSV copy holds {copied['rows']} rows")
    return copied


def sync_run(source: Path, work: Path, rows: int, timeout: float) -> dict[str, float]:
    a = synclib.copy_home(source, work / "a")
    b = synclib.new_node(work / "b", "Bench Receiver")
    servers: list[synclib.Server] = []
    try:
        sa, sb = synclib.serve_and_pair(a, b, servers)
        a_id, b_id = synclib.node_id(a), synclib.node_id(b)
        counter = synclib.Counter(b, a_id)
        started = time.monotonic()
        synclib.grant(a, b_id)
        granted = time.monotonic()
        seen = synclib.wait_count(counter, rows, timeout=timeout, servers=(sa, sb))
        counter.close()
        worker_cpu, worker_rss = sb.children_usage()
        result = {"wall_s": seen - started, "grant_cli_s": granted - started,
                  "rss_sender_mb": sa.peak_rss_mb(), "rss_receiver_mb": sb.peak_rss_mb(),
                  "cpu_sender_s": sa.cpu_s(), "cpu_receiver_s": sb.cpu_s(),
                  "cpu_receiver_children_s": worker_cpu,
                  "rss_receiver_children_mb": worker_rss}
    finally:
        for server in servers:
            server.stop()
    counts = synclib.counts_from(b, a_id)
    expected = len(range(0, rows, 5))
    if counts != {"people": rows, "contacts": expected, "donations": expected}:
        raise BenchError(f"B holds {counts}, expected {rows} people and {expected} "
                         "contacts and donations")
    return {**result, **{f"received_{k}": v for k, v in counts.items()}}


def bench_rows(args: argparse.Namespace, rows: int, work: Path) -> dict[str, object]:
    source = synclib.prepared_source(rows, args.seed, args.cache)
    runs = []
    for number in range(args.runs):
        order = ("baseline", "subject") if number % 2 == 0 else ("subject", "baseline")
        run: dict[str, dict[str, float]] = {}
        for which in order:
            with synclib.run_folder(work, f"{rows}-{number}-{which}", args.keep) as run_dir:
                if which == "baseline":
                    run["baseline"] = checked_csv_copy(source, run_dir, rows)
                else:
                    run["subject"] = sync_run(source, run_dir, rows, args.timeout)
        ratio = run["subject"]["wall_s"] / run["baseline"]["wall_s"]
        log(f"N={rows:,} run {number + 1}/{args.runs}: CSV copy {run['baseline']['wall_s']:.2f}s "
            f"(export {run['baseline']['export_s']:.2f} + import "
            f"{run['baseline']['import_s']:.2f}), sync {run['subject']['wall_s']:.2f}s "
            f"({rows / run['subject']['wall_s']:,.0f} people/s, {ratio:.2f}x), peak RSS "
            f"A {run['subject']['rss_sender_mb']:.0f} MB, B "
            f"{run['subject']['rss_receiver_mb']:.0f} MB, CPU A "
            f"{run['subject']['cpu_sender_s']:.1f}s B {run['subject']['cpu_receiver_s']:.1f}s "
            f"(B's decoder worker: CPU {run['subject']['cpu_receiver_children_s']:.1f}s, peak "
            f"RSS {run['subject']['rss_receiver_children_mb']:.0f} MB)")
        runs.append({"order": list(order), "ratio": ratio, **run})
    base = synclib.summary([r["baseline"]["wall_s"] for r in runs])
    subj = synclib.summary([r["subject"]["wall_s"] for r in runs])
    rss_a = max(r["subject"]["rss_sender_mb"] for r in runs)
    rss_b = max(r["subject"]["rss_receiver_mb"] for r in runs)
    return {
        "rows": rows, "csv_copy_s": base, "sync_s": subj,
        "csv_export_s": synclib.summary([r["baseline"]["export_s"] for r in runs]),
        "csv_import_s": synclib.summary([r["baseline"]["import_s"] for r in runs]),
        "ratio": {**synclib.summary([r["ratio"] for r in runs]),
                  "of_medians": subj["median"] / base["median"]},
        "sync_people_per_s": rows / subj["median"],
        "csv_people_per_s": rows / base["median"],
        "peak_rss_mb": {"sender": rss_a, "receiver": rss_b},
        "met": {"ratio": subj["median"] / base["median"] <= TARGET_RATIO,
                "aim": subj["median"] / base["median"] <= AIM_RATIO,
                "rss": max(rss_a, rss_b) < TARGET_RSS_MB},
        "runs_detail": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1800)
    synclib.add_common_options(parser)
    args = parser.parse_args(argv)
    with synclib.workspace(args, "tagshare-bench-sync-") as work:
        try:
            sizes = [bench_rows(args, rows, work) for rows in args.rows]
        except BenchError as exc:
            log(f"bench_sync: {exc}")
            return 1
    print(f"\ninitial sync benchmark, {args.runs} runs each")
    print(f"{'N':>10} {'sync median':>12} {'min':>8} {'max':>8} {'CSV copy':>9} {'min':>8} "
          f"{'max':>8} {'ratio':>7} {'people/s':>10} {'RSS A':>7} {'RSS B':>7}")
    for s in sizes:
        sy, cp = s["sync_s"], s["csv_copy_s"]
        print(f"{s['rows']:>10,} {sy['median']:>11.2f}s {sy['min']:>7.2f}s {sy['max']:>7.2f}s "
              f"{cp['median']:>8.2f}s {cp['min']:>7.2f}s {cp['max']:>7.2f}s "
              f"{s['ratio']['of_medians']:>6.2f}x {s['sync_people_per_s']:>10,.0f} "
              f"{s['peak_rss_mb']['sender']:>5.0f}MB {s['peak_rss_mb']['receiver']:>5.0f}MB")
    print(f"targets: ratio <= {TARGET_RATIO}x (aim {AIM_RATIO}x), peak RSS < "
          f"{TARGET_RSS_MB:.0f} MB per node")
    for s in sizes:
        verdict = "met" if s["met"]["ratio"] else "missed"
        print(f"N={s['rows']:,}: sync / CSV copy = {s['ratio']['of_medians']:.2f}x "
              f"(target {TARGET_RATIO}x: {verdict})")
    synclib.write_json(f"sync-{'-'.join(str(r) for r in args.rows)}",
                       {"benchmark": "sync", "runs": args.runs, "seed": args.seed,
                        "targets": {"ratio": TARGET_RATIO, "aim_ratio": AIM_RATIO,
                                    "rss_mb": TARGET_RSS_MB},
                        "sizes": sizes}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
