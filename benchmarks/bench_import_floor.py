"""Benchmark: what SQLite alone needs to load the import's rows into a node-like schema.

    python benchmarks/bench_import_floor.py --rows 1000000 --runs 3

No tagshare code runs here: everything is the sqlite3 shell, so the figures are a
floor that no Python importer can beat. Per run, in one fresh database each:

  import      `.import --csv` into one plain table of the 10 text columns (the
              baseline of bench_import.py);
  text keys   from that plain table (already parsed, nothing cleaned), INSERT ...
              SELECT into `people` with a TEXT uuid primary key and an email and a
              phone index (what matching on import needs), and `taggings` keyed by
              (tag, person uuid) with an index on person (what `people list --tag`
              and erasing need): 2 taggings per row, indexes built after the load;
  int keys    the same with an INTEGER person key in `taggings` (and the uuid as a
              unique index): the schema change the import section discusses.

The second and third figures exclude reading the CSV; add the first for the whole
floor. Each load is checked (every person and both taggings of each written).
Prints medians and writes JSON to benchmarks/out/.
"""

import argparse
import shutil
import subprocess
import time
from pathlib import Path

import synclib
from synclib import log

PEOPLE_COLUMNS = "first_name, last_name, email, phone, address1, address2, city, state, zip"
UUID = "printf('%08x-%04x-7%03x-8%03x-%012x', rowid, 0, 0, 0, rowid)"  # unique, time-ordered
SCHEMAS = {
    "text keys": (
        f"CREATE TABLE people (uuid TEXT PRIMARY KEY, {PEOPLE_COLUMNS}, created_at, updated_at);"
        "CREATE TABLE taggings (tag INTEGER, person TEXT, PRIMARY KEY (tag, person))"
        " WITHOUT ROWID;",
        "SELECT 1, uuid FROM people UNION ALL SELECT 2, uuid FROM people",
        "CREATE INDEX people_email ON people(email); CREATE INDEX people_phone ON people(phone);"
        "CREATE INDEX taggings_person ON taggings(person);",
    ),
    "int keys": (
        f"CREATE TABLE people (id INTEGER PRIMARY KEY, uuid TEXT NOT NULL, {PEOPLE_COLUMNS},"
        " created_at, updated_at);"
        "CREATE TABLE taggings (tag INTEGER, person INTEGER, PRIMARY KEY (tag, person))"
        " WITHOUT ROWID;",
        "SELECT 1, id FROM people UNION ALL SELECT 2, id FROM people",
        "CREATE UNIQUE INDEX people_uuid ON people(uuid);"
        "CREATE INDEX people_email ON people(email); CREATE INDEX people_phone ON people(phone);"
        "CREATE INDEX taggings_person ON taggings(person);",
    ),
}


def timed_shell(db: Path, *commands: str) -> float:
    started = time.perf_counter()
    subprocess.run(["sqlite3", str(db), *commands], check=True, capture_output=True)
    return time.perf_counter() - started


def load(plain: Path, target: Path, schema: tuple[str, str, str]) -> float:
    """Copy the plain table into the schema in one transaction, as a bulk import does."""
    shutil.copy(plain, target)
    create, taggings, indexes = schema
    return timed_shell(target, "PRAGMA journal_mode = WAL;", (
        f"BEGIN; {create}"
        f" INSERT INTO people (uuid, {PEOPLE_COLUMNS}, created_at, updated_at)"
        f" SELECT {UUID}, {PEOPLE_COLUMNS}, '2026-11-27T00:00:00Z', '2026-11-27T00:00:00Z'"
        " FROM raw;"
        f" INSERT INTO taggings {taggings}; {indexes} COMMIT;"))


def check(db: Path, rows: int) -> None:
    """The load is only a floor if it wrote every row: people == rows, taggings == 2 rows."""
    out = subprocess.run(["sqlite3", str(db), "SELECT (SELECT count(*) FROM people) || ' ' ||"
                          " (SELECT count(*) FROM taggings);"],
                         check=True, capture_output=True, text=True).stdout.split()
    if out != [str(rows), str(2 * rows)]:
        raise SystemExit(f"bench_import_floor: {db} holds people, taggings = {out}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    synclib.add_common_options(parser)
    args = parser.parse_args()
    csv_path = synclib.cached_csv(args.rows, args.seed, args.cache)
    times: dict[str, list[float]] = {"import": [], **{name: [] for name in SCHEMAS}}
    with synclib.workspace(args, "tagshare-bench-floor-") as work:
        for run in range(args.runs):
            plain = work / "plain.db"
            plain.unlink(missing_ok=True)
            times["import"].append(timed_shell(plain, f".import --csv {csv_path} raw"))
            for name, schema in SCHEMAS.items():
                target = work / "target.db"
                for stale in work.glob("target.db*"):
                    stale.unlink()
                times[name].append(load(plain, target, schema))
                check(target, args.rows)
            log(f"run {run + 1}/{args.runs}: " + ", ".join(
                f"{name} {values[-1]:.2f}s" for name, values in times.items()))
    result = {"benchmark": "import_floor", "rows": args.rows, "runs": args.runs,
              **{name: synclib.summary(values) for name, values in times.items()}}
    base = result["import"]["median"]
    print(f"\nSQLite alone, {args.rows:,} rows (median of {args.runs}):")
    for name in times:
        median = result[name]["median"]
        whole = median + (base if name != "import" else 0)
        print(f"  {name:10s} {median:6.2f}s   with the CSV read: {whole:6.2f}s = "
              f"{whole / base:.2f}x the plain .import")
    synclib.write_json(f"import-floor-{args.rows}", result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
