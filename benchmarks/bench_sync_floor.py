"""Benchmark: what SQLite alone needs to write a subscriber's rows for N received people.

    python benchmarks/bench_sync_floor.py --rows 100000 --runs 3
    python benchmarks/bench_sync_floor.py --rows 1000000 --runs 1

The initial sync's floor: no tagshare Python per person, no HTTP, no crypto. Source:
bench_sync.py's cached node A (N people tagged `all`, a door contact and a donation
on every fifth; synclib.prepared_source). Per run, in alternating order:

  CSV copy    bench_sync.py's baseline, by its own function (export the tagged
              people's 10 columns with the sqlite3 shell, `.import` them into a fresh
              table with a unique uuid index; both steps timed);
  floor       a fresh subscriber node made by tagshare (`tagshare init`: the real
              schema, indexes, triggers and full-text index) with an incoming share
              from A accepted as tagshare accepts one (node/shares.py), outside the
              clock; then, timed, ONE sqlite3 shell process that ATTACHes A read-only
              and writes, in one transaction with the node's own pragmas, what
              node/received.py writes for every received person: the copy in `people`
              (a new time-ordered uuid, origin, origin_uuid, the fields, version 1, no
              link: a fresh node has no one to link to), its `received` row (member,
              the share's epoch), its tagging under the share's local tag, and its
              contacts and donations keyed by (origin, uuid). Triggers and indexes as
              they are (the full-text trigger writes FTS5 per person).

Variants of the floor, each on its own fresh node, measured the same way:

  indexes at end   the secondary indexes of people, taggings, received, contacts and
                   donations and the full-text trigger dropped inside the transaction
                   before the load, then the indexes created again and the FTS5 index
                   rebuilt (`'rebuild'`) after it: "indexes built once at the end";
  int keys         issue 14 step 3 on a schema copy altered here: `people` gets an
                   `id INTEGER PRIMARY KEY`, and the person columns of taggings,
                   received, contacts and donations hold that integer (the uuid stays,
                   unique, for the edges);
  int keys + end   both.

Each statement is timed by the shell (`.timer on`), so the figures say where the time
goes. `--codec-json` (a bench_codec.py JSON) adds the protocol's own cost per person.

Checked after each load (exit 1 if wrong): the node holds N copies from A, N member
`received` rows, N taggings under the local tag, N/5 contacts and N/5 donations from
A, N documents in the full-text index, and `tagshare people search` finds a sampled
person by email. Prints medians, ratios to the CSV copy and JSON to benchmarks/out/.
"""

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import synclib
from bench_sync import checked_csv_copy
from synclib import BenchError, log

from tagshare.node import normalize
from tagshare.node import shares as node_shares
from tagshare.node.home import DB_FILE
from tagshare.node.ids import uuid7
from tagshare.node.node import open_node
from tagshare.node.storage import db
from tagshare.node.storage import shares as share_store
from tagshare.protocol.shares import FIELD_GROUPS

TARGET_RATIO = 3.0  # bench_sync.py's target: the whole sync within 3x the CSV copy
AIM_RATIO = 1.4
VARIANTS = ("real schema", "indexes at end", "int keys", "int keys + end")
FIELDS = ("first_name", "last_name", "email", "phone", "address1", "address2", "city",
          "state", "zip")
ALL_FIELDS = json.dumps(list(FIELD_GROUPS))  # the share grants everything, as bench_sync
RECORDS = {"contacts": ("method", "outcome", "note", "at", "by"),
           "donations": ("amount_cents", "currency", "at")}
STEPS = ("drop", "people", "received", "taggings", "contacts", "donations", "indexes",
         "search index", "commit", "rest")
LOADED = ("people", "taggings", "received", "contacts", "donations")
KEPT_INDEX = "people_origin"  # the load looks each copy up by (origin, origin_uuid)
# The node's own pragmas (node/storage/db.py); the database is already in WAL mode.
PRAGMAS = ("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; "
           "PRAGMA wal_autocheckpoint = 4000; PRAGMA cache_size = -32768;")


def subscriber(home: Path, source_id: str) -> dict[str, Any]:
    """A fresh node with an active incoming share from the source, accepted by tagshare's
    own code: what the floor's statements need to know about it."""
    synclib.new_node(home, "Bench Floor")
    node = open_node(home)
    try:
        share_id, epoch, now = uuid7(), "bench-floor-epoch-0000", normalize.now_iso()
        with db.transaction(node.conn) as conn:
            share_store.insert_share(conn, {
                "id": share_id, "direction": "incoming", "peer": source_id,
                "tag": synclib.SHARED_TAG, "tag_id": None, "local_tag": None,
                "fields": ALL_FIELDS,
                "on_revoke": "purge", "note": "", "status": "offered", "epoch": epoch,
                "now": now})
            share_store.record_terms(conn, share_id, 1, ALL_FIELDS, "purge", now=now,
                                     accepted=False)
            row = share_store.get_share(conn, share_id)
            assert row is not None
            node_shares.activate_incoming(node, conn, row, None)
            share = share_store.get_share(conn, share_id)
            assert share is not None
            tag = conn.execute("SELECT id FROM tags WHERE name = ?",
                               (share["local_tag"],)).fetchone()[0]
        node.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return {"share": share_id, "epoch": epoch, "tag": int(tag), "now": now,
                "origin": source_id}
    finally:
        node.close()


def schema_objects(path: Path) -> list[tuple[str, str, str, str]]:
    """(type, name, table, sql) of the loaded tables and their indexes and triggers."""
    conn = sqlite3.connect(path)
    try:
        marks = ", ".join("?" * len(LOADED))
        return conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL "
            f"AND tbl_name IN ({marks}) ORDER BY type = 'trigger', type = 'index', rowid",
            LOADED).fetchall()
    finally:
        conn.close()


INT_KEY_EDITS = {
    "people": ("uuid TEXT PRIMARY KEY", "id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE"),
    "taggings": ("person TEXT NOT NULL REFERENCES people(uuid)",
                 "person INTEGER NOT NULL REFERENCES people(id)"),
    "contacts": ("person TEXT NOT NULL REFERENCES people(uuid)",
                 "person INTEGER NOT NULL REFERENCES people(id)"),
    "donations": ("person TEXT NOT NULL REFERENCES people(uuid)",
                  "person INTEGER NOT NULL REFERENCES people(id)"),
    "received": ("person TEXT,", "person INTEGER,"),
}


def use_int_keys(path: Path) -> None:
    """Step 3 on this copy: rebuild the (empty) loaded tables with integer person keys,
    their indexes and triggers as they were."""
    objects = schema_objects(path)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("BEGIN")
        for table in reversed(LOADED):
            conn.execute(f"DROP TABLE {table}")
        for kind, name, _table, sql in objects:
            if kind == "table":
                old, new = INT_KEY_EDITS[name]
                if old not in sql:
                    raise BenchError(f"int keys: {name}'s schema has no {old!r}")
                sql = sql.replace(old, new)
            conn.execute(sql)
        conn.execute("COMMIT")
    finally:
        conn.close()


Step = tuple[str, str]  # (what it writes, one SQL statement)


def load_steps(sub: dict[str, Any], *, at_end: list[tuple[str, str, str, str]],
               int_keys: bool) -> list[Step]:
    """The timed statements: write every received person's rows from the attached source
    (the indexes in `at_end` and the full-text trigger dropped first and built again
    after, when given). The caller wraps them in one transaction."""
    key = "p.id" if int_keys else "p.uuid"
    ms = time.time_ns() // 1_000_000
    local_uuid = f"printf('{ms >> 16:08x}-{ms & 0xFFFF:04x}-7%03x-8%03x-%012x', 0, 0, s.rowid)"
    tagged = ("s.origin IS NULL AND EXISTS (SELECT 1 FROM src.taggings t JOIN src.tags g "
              f"ON g.id = t.tag WHERE t.person = s.uuid AND g.name = '{synclib.SHARED_TAG}')")
    origin, now = f"'{sub['origin']}'", f"'{sub['now']}'"
    copies = f"main.people p WHERE p.origin = {origin}"
    steps: list[Step] = [("drop", f"DROP {kind.upper()} {name}") for kind, name, _, _ in at_end]
    steps += [
        ("people", f"INSERT INTO people (uuid, origin, origin_uuid, {', '.join(FIELDS)}, "
                   f"created_at, updated_at, version, link) SELECT {local_uuid}, {origin}, "
                   f"s.uuid, {', '.join('s.' + f for f in FIELDS)}, {now}, {now}, 1, NULL "
                   f"FROM src.people s WHERE {tagged}"),
        ("received", "INSERT INTO received (share, origin_uuid, version, person, state, epoch) "
                     f"SELECT '{sub['share']}', p.origin_uuid, p.rowid, {key}, 'member', "
                     f"'{sub['epoch']}' FROM {copies}"),
        ("taggings", f"INSERT INTO taggings (tag, person) SELECT {sub['tag']}, {key} "
                     f"FROM {copies}")]
    for table, columns in RECORDS.items():
        steps.append((table, f"INSERT INTO {table} (uuid, person, {', '.join(columns)}, origin) "
                             f"SELECT c.uuid, {key}, {', '.join('c.' + c for c in columns)}, "
                             f"{origin} FROM src.{table} c JOIN main.people p ON p.origin = "
                             f"{origin} AND p.origin_uuid = c.person WHERE c.origin IS NULL"))
    steps += [("indexes", sql) for kind, _, _, sql in at_end if kind == "index"]
    if at_end:
        steps.append(("search index", "INSERT INTO people_fts (people_fts) VALUES ('rebuild')"))
        steps += [("indexes", sql) for kind, _, _, sql in at_end if kind == "trigger"]
    return steps


def run_steps(path: Path, source: Path, steps: list[Step]) -> dict[str, float]:
    """One sqlite3 shell process: the node's pragmas, the source attached read-only, then
    the steps and COMMIT in one transaction, each timed by the shell (`.timer on`).
    Seconds per step, COMMIT, and `rest` (start, attach, and the WAL checkpoint into the
    database file when the shell closes it), and `wall_s` for all of it."""
    script = (f"{PRAGMAS}\nATTACH 'file:{source / DB_FILE}?mode=ro' AS src;\nBEGIN;\n"
              ".timer on\n" + "".join(f"{sql};\n" for _, sql in steps) + "COMMIT;\n")
    started = time.perf_counter()
    proc = subprocess.run(["sqlite3", str(path)], input=script, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0 or proc.stderr.strip():
        raise BenchError(f"sqlite3 {path}: {proc.stderr.strip()[-1000:]}")
    timings = [float(line.split()[3]) for line in proc.stdout.splitlines()
               if line.startswith("Run Time: real")]
    labels = [label for label, _ in steps] + ["commit"]
    if len(timings) != len(labels):
        raise BenchError(f"sqlite3 {path}: {len(timings)} timings for {len(labels)} steps")
    result = {"wall_s": wall}
    for label, seconds in zip(labels, timings, strict=True):
        result[label] = result.get(label, 0.0) + seconds
    result["rest"] = wall - sum(timings)
    return result


def dropped_at_end(path: Path) -> list[tuple[str, str, str, str]]:
    """The loaded tables' secondary indexes (all but the one the load looks copies up
    by) and the full-text insert trigger: what "indexes at end" drops and builds again."""
    return [obj for obj in schema_objects(path)
            if (obj[0] == "index" and obj[1] != KEPT_INDEX) or obj[1] == "people_ai"]


def floor_run(source: Path, work: Path, variant: str, source_id: str) -> dict[str, float]:
    home = work / "b"
    sub = subscriber(home, source_id)
    path = home / DB_FILE
    int_keys = variant.startswith("int keys")
    if int_keys:
        use_int_keys(path)
    at_end = dropped_at_end(path) if variant.endswith("end") else []
    steps = run_steps(path, source, load_steps(sub, at_end=at_end, int_keys=int_keys))
    return {**steps, **check(home, source, sub), "db_bytes": float(database_bytes(path))}


def database_bytes(path: Path) -> int:
    """The database's size after the load (its WAL, if any is left, included)."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def check(home: Path, source: Path, sub: dict[str, Any]) -> dict[str, float]:
    """Every row written, and the full-text index finds people; raises BenchError if not."""
    conn = synclib.ro(home)
    src = synclib.ro(source)
    try:
        origin = sub["origin"]
        counts = {
            "people": conn.execute("SELECT count(*) FROM people WHERE origin = ?",
                                   (origin,)).fetchone()[0],
            "received": conn.execute("SELECT count(*) FROM received WHERE share = ? AND "
                                     "state = 'member'", (sub["share"],)).fetchone()[0],
            "taggings": conn.execute("SELECT count(*) FROM taggings WHERE tag = ?",
                                     (sub["tag"],)).fetchone()[0],
            **{table: conn.execute(f"SELECT count(*) FROM {table} WHERE origin = ?",
                                   (origin,)).fetchone()[0]
               for table in ("contacts", "donations")}}
        expected = {table: src.execute(
            f"SELECT count(*) FROM {table} WHERE origin IS NULL").fetchone()[0]
            for table in ("people", "contacts", "donations")}
        expected["received"] = expected["taggings"] = expected["people"]
        email = src.execute("SELECT email FROM people WHERE email IS NOT NULL "
                            "ORDER BY rowid DESC LIMIT 1").fetchone()[0]
        indexed = conn.execute("SELECT count(*) FROM people_fts_docsize").fetchone()[0]
    finally:
        conn.close()
        src.close()
    if counts != expected:
        raise BenchError(f"the floor wrote {counts}, expected {expected}")
    if indexed != counts["people"]:
        raise BenchError(f"the full-text index holds {indexed} people of {counts['people']}")
    found = json.loads(synclib.tagshare("--home", str(home), "people", "search", email,
                                        "--json"))
    if not any(person.get("email") == email for person in found):
        raise BenchError(f"people search {email!r} does not find them")
    return {f"written_{table}": float(count) for table, count in counts.items()}


def bench(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    source = synclib.prepared_source(args.rows, args.seed, args.cache)
    source_id = synclib.node_id(source)
    runs = []
    for number in range(args.runs):
        order = ("CSV copy", *VARIANTS)
        order = order if number % 2 == 0 else order[::-1]
        run: dict[str, dict[str, float]] = {}
        load = os.getloadavg()
        for which in order:
            with synclib.run_folder(work, f"{number}-{which.replace(' ', '-')}",
                                    args.keep) as run_dir:
                run[which] = (checked_csv_copy(source, run_dir, args.rows)
                              if which == "CSV copy"
                              else floor_run(source, run_dir, which, source_id))
        base = run["CSV copy"]["wall_s"]
        log(f"N={args.rows:,} run {number + 1}/{args.runs}: CSV copy {base:.2f}s, " + ", ".join(
            f"{v} {run[v]['wall_s']:.2f}s ({run[v]['wall_s'] / base:.2f}x)" for v in VARIANTS)
            + f"; load {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after")
        runs.append({"order": list(order), "loadavg_before": load,
                     "loadavg_after": os.getloadavg(), **run})
    return summarize(args, runs)


def summarize(args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per variant, ratios to the CSV copy's median, and (given bench_codec's
    JSON) the floor plus the protocol's own cost per person."""
    base = synclib.summary([r["CSV copy"]["wall_s"] for r in runs])
    protocol = codec_us(args.codec_json)
    variants = {}
    for name in VARIANTS:
        times = synclib.summary([r[name]["wall_s"] for r in runs])
        entry: dict[str, Any] = {
            "wall_s": times, "ratio": times["median"] / base["median"],
            "ratio_per_run": [r[name]["wall_s"] / r["CSV copy"]["wall_s"] for r in runs],
            "us_per_person": times["median"] / args.rows * 1e6,
            "steps_s": {step: statistics.median(r[name].get(step, 0.0) for r in runs)
                        for step in STEPS},
            "db_mb": statistics.median(r[name]["db_bytes"] for r in runs) / 1e6}
        for side, micros in protocol.items():
            whole = times["median"] + micros * args.rows / 1e6
            entry[f"with_protocol_{side}"] = {"s": whole, "ratio": whole / base["median"]}
        variants[name] = entry
    return {"rows": args.rows, "csv_copy_s": base,
            "csv_copy_db_mb": statistics.median(r["CSV copy"]["db_bytes"] for r in runs) / 1e6,
            "csv_export_s": synclib.summary([r["CSV copy"]["export_s"] for r in runs]),
            "csv_import_s": synclib.summary([r["CSV copy"]["import_s"] for r in runs]),
            "protocol_us_per_person": protocol, "variants": variants, "runs_detail": runs}


def codec_us(path: Path | None) -> dict[str, float]:
    """From a bench_codec.py JSON: the receiver's protocol cost per person (parse, verify,
    open) and the whole protocol's (the sender's build and seal too), microseconds."""
    if path is None:
        return {}
    stages = json.loads(path.read_text())["us_per_item"]
    receive = sum(stages[s] for s in ("parse envelope", "verify signature",
                                      "open (decrypt, parse, check)"))
    return {"receive": receive, "both": receive + stages["build items"] + stages["seal"]}


def report(result: dict[str, Any], runs: int) -> None:
    base = result["csv_copy_s"]
    print(f"\nsubscriber's rows for {result['rows']:,} people, SQLite alone (median of {runs}); "
          f"CSV copy {base['median']:.2f}s (min {base['min']:.2f}, max {base['max']:.2f})")
    print(f"{'variant':16s} {'median':>8s} {'min':>7s} {'max':>7s} {'us/person':>9s} "
          f"{'vs CSV copy':>11s}")
    for name, entry in result["variants"].items():
        wall = entry["wall_s"]
        print(f"{name:16s} {wall['median']:7.2f}s {wall['min']:6.2f}s {wall['max']:6.2f}s "
              f"{entry['us_per_person']:9.1f} {entry['ratio']:10.2f}x")
    print(f"\nseconds by step (median; rest = start, attach, the WAL checkpoint at close); "
          f"database size (CSV copy's: {result['csv_copy_db_mb']:.1f} MB)")
    print(f"{'variant':16s} " + " ".join(f"{step[:8]:>8s}" for step in STEPS) + f" {'MB':>6s}")
    for name, entry in result["variants"].items():
        print(f"{name:16s} " + " ".join(f"{entry['steps_s'][step]:8.2f}" for step in STEPS)
              + f" {entry['db_mb']:6.0f}")
    for side, micros in result["protocol_us_per_person"].items():
        print(f"plus the protocol ({side}, {micros:.1f} us a person): " + ", ".join(
            f"{name} {entry[f'with_protocol_{side}']['ratio']:.2f}x"
            for name, entry in result["variants"].items()))
    print(f"bench_sync's target: {TARGET_RATIO}x (aim {AIM_RATIO}x) for the whole sync")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--codec-json", type=Path,
                        help="a bench_codec.py JSON: report the floor plus the protocol's cost")
    synclib.add_common_options(parser)
    args = parser.parse_args(argv)
    with synclib.workspace(args, "tagshare-bench-sync-floor-") as work:
        try:
            result = bench(args, work)
        except BenchError as exc:
            log(f"bench_sync_floor: {exc}")
            return 1
    report(result, args.runs)
    synclib.write_json(f"sync-floor-{args.rows}",
                       {"benchmark": "sync_floor", "runs": args.runs, "seed": args.seed,
                        "targets": {"ratio": TARGET_RATIO, "aim_ratio": AIM_RATIO},
                        **result}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
