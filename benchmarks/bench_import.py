"""Benchmark: `tagshare people import` vs the sqlite3 shell's `.import` and vs
`sqlite-utils insert --csv`.

    python benchmarks/bench_import.py --rows 1000000 --runs 3
    python benchmarks/bench_import.py --rows 2000 --runs 1      # CI: proves it works

Generates the CSV once (benchmarks/gen_people.py), then for each run, side by
side (the order alternates between runs so neither always gets the warmer
machine):

  baseline  the sqlite3 shell: `.import --csv` into a fresh database with one
            plain table of the same 10 text columns (skipped, and said so, if
            there is no sqlite3 shell);
  sqlite-utils  `sqlite-utils insert DB people FILE --csv` into a fresh database
            (the library tagshare itself uses, as a user would reach for it);
  subject   `tagshare --home TMP init`, then `tagshare --home TMP people import
            FILE` (only the import is timed), in a fresh node.

Targets (issue 14): the import within 6x the shell's `.import`, and at most half
the time of `sqlite-utils insert --csv`.

Each is a subprocess; wall clock is measured around it and its peak RSS is
that process's own (os.wait4 on its pid; for the import, the larger of the
writer and the child process cleaning its rows). Afterwards the last node is checked
with sqlite3 (people == rows, taggings == 2 * rows, every phone in E.164) and
`tagshare people list --tag volunteers --limit 50` is timed on it (median of 5).

Prints a table and writes JSON to benchmarks/out/. Exit status 1 if the
benchmark could not run or the result is wrong; missing a target is reported,
not failed (benchmarks are not timed tests).
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

import gen_people  # noqa: E402

TARGET_RATIO = 6.0
TARGET_VS_SQLITE_UTILS = 0.5
TARGET_RSS_MB = 250.0
TARGET_LIST_S = 1.0


class BenchError(Exception):
    pass


def find_tagshare(given: str | None) -> list[str]:
    if given:
        return [given]
    beside = Path(sys.executable).parent / "tagshare"
    if beside.exists():
        return [str(beside)]
    venv = REPO / ".venv" / "bin" / "tagshare"
    if venv.exists():
        return [str(venv)]
    found = shutil.which("tagshare")
    if found:
        return [found]
    raise BenchError("no tagshare executable: make install, or pass --tagshare PATH")


def run_measured(argv: list[str], *, stdin: str | None = None,
                 cwd: Path | None = None) -> dict[str, float | str]:
    """Run argv; wall seconds and the peak RSS (MB) of that process alone."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=out, stderr=err, cwd=cwd,
        )
        if stdin is not None:
            assert proc.stdin is not None
            proc.stdin.write(stdin.encode())
            proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited {proc.returncode}:\n{stderr[-2000:]}")
    # ru_maxrss is in KiB on Linux.
    return {"wall_s": wall, "rss_mb": usage.ru_maxrss / 1024, "stdout": stdout,
            "stderr": stderr}


def find_sqlite_utils(given: str | None) -> str:
    for candidate in (given, Path(sys.executable).parent / "sqlite-utils",
                      REPO / ".venv" / "bin" / "sqlite-utils", shutil.which("sqlite-utils")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise BenchError("no sqlite-utils executable: make install, or pass --sqlite-utils PATH")


def with_sqlite_utils(csv_path: Path, work: Path, sqlite_utils: str) -> dict[str, float | str]:
    db = work / "sqlite-utils.db"
    result = run_measured([sqlite_utils, "insert", str(db), "people", str(csv_path), "--csv"])
    result["rows_loaded"] = _scalar(db, "SELECT count(*) FROM people")
    db.unlink()
    return result


def baseline(csv_path: Path, work: Path, sqlite_bin: str) -> dict[str, float | str]:
    db = work / "baseline.db"
    columns = ", ".join(f"{name} TEXT" for name in gen_people.HEADER)
    script = (f"CREATE TABLE people ({columns});\n"
              f".import --csv --skip 1 '{csv_path}' people\n")
    result = run_measured([sqlite_bin, str(db)], stdin=script)
    count = _scalar(db, "SELECT count(*) FROM people")
    result["rows_loaded"] = count
    db.unlink()
    return result


def subject(csv_path: Path, work: Path, tagshare: list[str]) -> tuple[dict[str, float | str], Path]:
    home = work / "node"
    if home.exists():
        shutil.rmtree(home)
    run_measured([*tagshare, "--home", str(home), "init", "--name", "bench"])
    result = run_measured([*tagshare, "--home", str(home), "people", "import", str(csv_path)])
    return result, home


def _scalar(db: Path, sql: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def check_node(home: Path, rows: int) -> dict[str, int]:
    """Counts on the imported node, read without tagshare; the search index must find
    every imported person too (it is rebuilt once at the end of a bulk import)."""
    conn = sqlite3.connect(f"file:{home / 'node.db'}?mode=ro", uri=True)
    try:
        people, taggings, e164, emails, tags, searchable = conn.execute(
            "SELECT (SELECT count(*) FROM people), (SELECT count(*) FROM taggings), "
            "(SELECT count(*) FROM people WHERE phone GLOB '+1[2-9]*' AND length(phone) = 12), "
            "(SELECT count(DISTINCT email) FROM people), (SELECT count(*) FROM tags), "
            "(SELECT count(*) FROM people_fts "
            " WHERE people_fts MATCH 'email:com OR email:net OR email:edu')"
        ).fetchone()
    finally:
        conn.close()
    found = {"people": people, "taggings": taggings, "e164_phones": e164,
             "distinct_emails": emails, "tags": tags, "searchable": searchable}
    expected = {"people": rows, "taggings": 2 * rows, "e164_phones": rows,
                "distinct_emails": rows, "searchable": rows}
    wrong = {k: (found[k], v) for k, v in expected.items() if found[k] != v}
    if wrong:
        raise BenchError(f"import is wrong (found, expected): {wrong}")
    return found


def check_sample_phones(csv_path: Path, sample: int = 1000) -> int:
    """The generator's phones must all normalize (node.normalize, same as the import)."""
    import csv

    sys.path.insert(0, str(REPO))
    from tagshare.node.normalize import normalize_phone

    with open(csv_path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        checked = 0
        for row in reader:
            if normalize_phone(row[3]) is None:
                raise BenchError(f"generated phone {row[3]!r} does not normalize")
            checked += 1
            if checked >= sample:
                break
    return checked


def time_list(home: Path, tagshare: list[str], times: int = 5) -> list[float]:
    walls = []
    for _ in range(times):
        result = run_measured([*tagshare, "--home", str(home), "people", "list",
                               "--tag", "volunteers", "--limit", "50"])
        lines = [line for line in str(result["stdout"]).splitlines() if line.strip()]
        if len(lines) < 50:
            raise BenchError(f"people list --tag volunteers --limit 50 printed {len(lines)} lines")
        walls.append(float(result["wall_s"]))
    return walls


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def machine() -> dict[str, str | int]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_mb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_mb = int(line.split()[1]) // 1024
    except OSError:
        pass
    return {"nproc": os.cpu_count() or 0, "cpu": model or platform.processor(),
            "mem_mb": mem_mb, "python": platform.python_version(),
            "python_sqlite": sqlite3.sqlite_version, "platform": platform.platform()}


def _one_run(order: tuple[str, ...], csv_path: Path, work: Path, tagshare: list[str],
             args: argparse.Namespace) -> dict[str, Any]:
    """One run of each contender, in `order`; their times, RSS and ratios."""
    run: dict[str, Any] = {"order": list(order), "loadavg": _loadavg()}
    for which in order:
        if which == "baseline" and args.sqlite3:
            measured = baseline(csv_path, work, args.sqlite3)
        elif which == "sqlite_utils":
            measured = with_sqlite_utils(csv_path, work, args.sqlite_utils)
        elif which == "subject":
            measured, _ = subject(csv_path, work, tagshare)
        else:
            continue
        if measured.get("rows_loaded", args.rows) != args.rows:
            raise BenchError(f"{which} loaded {measured['rows_loaded']} rows")
        run[which] = {f: measured[f] for f in ("wall_s", "rss_mb")}
    subject_s = float(run["subject"]["wall_s"])
    if "baseline" in run:
        run["ratio"] = subject_s / float(run["baseline"]["wall_s"])
    run["vs_sqlite_utils"] = subject_s / float(run["sqlite_utils"]["wall_s"])
    return run


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return ""


def _fmt(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}x"


def _print(result: dict[str, Any], args: argparse.Namespace) -> None:
    def row(name: str, s: dict[str, float] | None, unit: str = "s") -> str:
        if s is None:
            return f"{name:<34} {'(no sqlite3 shell)':>10}"
        return (f"{name:<34} {s['median']:>9.3f}{unit} {s['min']:>9.3f}{unit} "
                f"{s['max']:>9.3f}{unit}")

    met = result["met"]
    ratio = result["ratio"]["of_medians"] if result["ratio"] else None
    vs_utils = result["vs_sqlite_utils"]["of_medians"]
    rss = result["peak_rss_mb"]
    counts = result["checks"]
    print()
    print(f"import benchmark: {args.rows:,} rows, {args.runs} runs "
          f"({result['machine']['nproc']} cpu, {result['machine']['cpu']}, "
          f"load {result['machine']['loadavg']})")
    print(f"{'':<34} {'median':>10} {'min':>10} {'max':>10}")
    print(row("sqlite3 .import (baseline)", result["baseline_s"]))
    print(row("sqlite-utils insert --csv", result["sqlite_utils_s"]))
    print(row("tagshare people import", result["import_s"]))
    print(row("ratio to .import (per run)", result["ratio"], "x"))
    print(row("ratio to sqlite-utils (per run)", result["vs_sqlite_utils"], "x"))
    print(f"{'ratio of medians, to .import':<34} {_fmt(ratio):>10}   target <= "
          f"{TARGET_RATIO:.0f}x {_verdict(met['ratio'])}")
    print(f"{'ratio of medians, to sqlite-utils':<34} {_fmt(vs_utils):>10}   target <= "
          f"{TARGET_VS_SQLITE_UTILS}x {_verdict(met['vs_sqlite_utils'])}")
    print(f"{'import rate':<34} {result['import_rows_per_s']:>9,.0f} rows/s")
    print(f"{'peak RSS, tagshare import':<34} {rss['import']:>9.1f} MB  target < "
          f"{TARGET_RSS_MB:.0f} MB {_verdict(met['rss'])}  (sqlite-utils "
          f"{rss['sqlite_utils']:.1f} MB, sqlite3 shell {rss['sqlite3_shell'] or 0:.1f} MB)")
    print(row("people list --tag --limit 50", result["list_tag_s"]))
    print(f"checks: people {counts['people']:,}, taggings {counts['taggings']:,}, "
          f"E.164 phones {counts['e164_phones']:,}, found by search {counts['searchable']:,}, "
          f"phones sampled {counts['phones_sampled']}: ok")


def _verdict(met: bool | None) -> str:
    return "not measured" if met is None else "met" if met else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workdir", type=Path, help="scratch directory (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--tagshare", help="tagshare executable (default: the venv's)")
    parser.add_argument("--sqlite3", default=shutil.which("sqlite3") or "/usr/bin/sqlite3",
                        help="the sqlite3 shell (its baseline is skipped if there is none)")
    parser.add_argument("--sqlite-utils", help="sqlite-utils executable (default: the venv's)")
    parser.add_argument("--json", type=Path, help="where to write the JSON "
                        "(default benchmarks/out/import-<rows>-<time>.json)")
    args = parser.parse_args(argv)

    try:
        tagshare = find_tagshare(args.tagshare)
        args.sqlite_utils = find_sqlite_utils(args.sqlite_utils)
        if not Path(args.sqlite3).exists():
            print(f"bench_import: no sqlite3 shell at {args.sqlite3}: its baseline is skipped "
                  "(apt-get install sqlite3)", file=sys.stderr)
            args.sqlite3 = None
        work = args.workdir or Path(tempfile.mkdtemp(prefix="tagshare-bench-import-"))
        work.mkdir(parents=True, exist_ok=True)
        try:
            return _run(args, tagshare, work)
        finally:
            if not args.keep and args.workdir is None:
                shutil.rmtree(work, ignore_errors=True)
    except BenchError as exc:
        print(f"bench_import: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, tagshare: list[str], work: Path) -> int:
    csv_path = work / f"people-{args.rows}.csv"
    started = time.perf_counter()
    gen_people.write(args.rows, csv_path, args.seed)
    print(f"generated {args.rows} rows ({csv_path.stat().st_size / 1e6:.1f} MB) "
          f"in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    sampled = check_sample_phones(csv_path)
    sqlite_version = (subprocess.run([args.sqlite3, "--version"], capture_output=True,
                                     text=True).stdout.split()[0] if args.sqlite3 else None)
    sqlite_utils_version = subprocess.run([args.sqlite_utils, "--version"], capture_output=True,
                                          text=True).stdout.split()[-1]

    runs = []
    home = work / "node"
    for number in range(args.runs):
        order = [("baseline", "sqlite_utils", "subject"),
                 ("subject", "baseline", "sqlite_utils"),
                 ("sqlite_utils", "subject", "baseline")][number % 3]
        run = _one_run(order, csv_path, work, tagshare, args)
        home = work / "node"
        runs.append(run)
        print(f"run {number + 1}/{args.runs}: " + ", ".join(
            f"{name} {run[name]['wall_s']:.2f}s" for name in order if name in run)
            + f"; ratio {_fmt(run.get('ratio'))}, vs sqlite-utils {run['vs_sqlite_utils']:.2f}x, "
            f"peak RSS {run['subject']['rss_mb']:.0f} MB", file=sys.stderr)

    counts = check_node(home, args.rows)
    list_walls = time_list(home, tagshare)

    subj = summary([r["subject"]["wall_s"] for r in runs])
    utils = summary([r["sqlite_utils"]["wall_s"] for r in runs])
    vs_utils = summary([r["vs_sqlite_utils"] for r in runs])
    base = summary([r["baseline"]["wall_s"] for r in runs]) if args.sqlite3 else None
    ratios = summary([r["ratio"] for r in runs]) if args.sqlite3 else None
    ratio_of_medians = subj["median"] / base["median"] if base else None
    rss = max(r["subject"]["rss_mb"] for r in runs)
    lst = summary(list_walls)
    result = {
        "benchmark": "import",
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "rows": args.rows, "runs": args.runs, "seed": args.seed,
        "csv_bytes": csv_path.stat().st_size,
        "machine": {**machine(), "sqlite3_shell": sqlite_version,
                    "sqlite_utils": sqlite_utils_version, "loadavg": _loadavg()},
        "baseline_s": base, "sqlite_utils_s": utils, "import_s": subj,
        "ratio": {**ratios, "of_medians": ratio_of_medians} if ratios else None,
        "vs_sqlite_utils": {**vs_utils, "of_medians": subj["median"] / utils["median"]},
        "import_rows_per_s": args.rows / subj["median"],
        "peak_rss_mb": {"import": rss,
                        "sqlite_utils": max(r["sqlite_utils"]["rss_mb"] for r in runs),
                        "sqlite3_shell": max(r["baseline"]["rss_mb"] for r in runs)
                        if args.sqlite3 else None},
        "list_tag_s": {**lst, "samples": list_walls},
        "checks": {**counts, "phones_sampled": sampled},
        "targets": {"ratio": TARGET_RATIO, "vs_sqlite_utils": TARGET_VS_SQLITE_UTILS,
                    "rss_mb": TARGET_RSS_MB, "list_tag_s": TARGET_LIST_S},
        "met": {"ratio": ratio_of_medians <= TARGET_RATIO if ratio_of_medians else None,
                "vs_sqlite_utils": subj["median"] / utils["median"] <= TARGET_VS_SQLITE_UTILS,
                "rss": rss < TARGET_RSS_MB, "list_tag": lst["median"] < TARGET_LIST_S},
        "runs_detail": runs,
    }
    _print(result, args)
    OUT.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = args.json or OUT / f"import-{args.rows}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
