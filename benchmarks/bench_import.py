"""Benchmark: `tagshare people import` vs the sqlite3 shell's `.import`.

    python benchmarks/bench_import.py --rows 1000000 --runs 3
    python benchmarks/bench_import.py --rows 2000 --runs 1      # CI: proves it works

Generates the CSV once (benchmarks/gen_people.py), then for each run, side by
side (the order alternates between runs so neither always gets the warmer
machine):

  baseline  the sqlite3 shell: `.import --csv` into a fresh database with one
            plain table of the same 10 text columns;
  subject   `tagshare --home TMP init`, then `tagshare --home TMP people import
            FILE` (only the import is timed), in a fresh node.

Each is a subprocess; wall clock is measured around it and its peak RSS is
that process's own (os.wait4 on its pid). Afterwards the last node is checked
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

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

import gen_people  # noqa: E402

TARGET_RATIO = 4.0
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


def check_node(home: Path, rows: int, sqlite_bin: str) -> dict[str, int]:
    """Counts on the imported node, read with the sqlite3 shell."""
    db = home / "node.db"
    sql = ("SELECT (SELECT count(*) FROM people), (SELECT count(*) FROM taggings), "
           "(SELECT count(*) FROM people WHERE phone GLOB '+1[2-9]*' AND length(phone) = 12), "
           "(SELECT count(DISTINCT email) FROM people), (SELECT count(*) FROM tags);")
    out = subprocess.run([sqlite_bin, "-readonly", str(db), sql], check=True,
                         capture_output=True, text=True).stdout.strip()
    people, taggings, e164, emails, tags = (int(x) for x in out.split("|"))
    found = {"people": people, "taggings": taggings, "e164_phones": e164,
             "distinct_emails": emails, "tags": tags}
    expected = {"people": rows, "taggings": 2 * rows, "e164_phones": rows,
                "distinct_emails": rows}
    wrong = {k: (found[k], v) for k, v in expected.items() if found[k] != v}
    if wrong:
        raise BenchError(f"import is wrong (found, expected): {wrong}")
    return found


def check_sample_phones(csv_path: Path, sample: int = 1000) -> int:
    """The generator's phones must all normalize (node.normalize, same as the import)."""
    import csv

    sys.path.insert(0, str(REPO))
    from node.normalize import normalize_phone

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workdir", type=Path, help="scratch directory (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--tagshare", help="tagshare executable (default: the venv's)")
    parser.add_argument("--sqlite3", default=shutil.which("sqlite3") or "/usr/bin/sqlite3")
    parser.add_argument("--json", type=Path, help="where to write the JSON "
                        "(default benchmarks/out/import-<rows>-<time>.json)")
    args = parser.parse_args(argv)

    try:
        tagshare = find_tagshare(args.tagshare)
        if not Path(args.sqlite3).exists():
            raise BenchError(f"no sqlite3 shell at {args.sqlite3}")
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
    sqlite_version = subprocess.run([args.sqlite3, "--version"], capture_output=True,
                                    text=True).stdout.split()[0]

    runs = []
    home = work / "node"
    for number in range(args.runs):
        order = ("baseline", "subject") if number % 2 == 0 else ("subject", "baseline")
        run: dict[str, dict[str, float | str]] = {}
        for which in order:
            if which == "baseline":
                run["baseline"] = baseline(csv_path, work, args.sqlite3)
                if run["baseline"]["rows_loaded"] != args.rows:
                    raise BenchError(f"sqlite3 .import loaded {run['baseline']['rows_loaded']}")
            else:
                run["subject"], home = subject(csv_path, work, tagshare)
        ratio = float(run["subject"]["wall_s"]) / float(run["baseline"]["wall_s"])
        print(f"run {number + 1}/{args.runs}: sqlite3 .import {run['baseline']['wall_s']:.2f}s, "
              f"tagshare import {run['subject']['wall_s']:.2f}s ({ratio:.2f}x), "
              f"peak RSS {run['subject']['rss_mb']:.0f} MB", file=sys.stderr)
        runs.append({"order": list(order), "ratio": ratio,
                     **{k: {f: v[f] for f in ("wall_s", "rss_mb")} for k, v in run.items()}})

    counts = check_node(home, args.rows, args.sqlite3)
    list_walls = time_list(home, tagshare)

    base = summary([r["baseline"]["wall_s"] for r in runs])
    subj = summary([r["subject"]["wall_s"] for r in runs])
    ratios = summary([r["ratio"] for r in runs])
    rss = max(r["subject"]["rss_mb"] for r in runs)
    base_rss = max(r["baseline"]["rss_mb"] for r in runs)
    lst = summary(list_walls)
    ratio_of_medians = subj["median"] / base["median"]
    result = {
        "benchmark": "import",
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "rows": args.rows, "runs": args.runs, "seed": args.seed,
        "csv_bytes": csv_path.stat().st_size,
        "machine": {**machine(), "sqlite3_shell": sqlite_version},
        "baseline_s": base, "import_s": subj,
        "ratio": {**ratios, "of_medians": ratio_of_medians},
        "import_rows_per_s": args.rows / subj["median"],
        "peak_rss_mb": {"import": rss, "sqlite3_shell": base_rss},
        "list_tag_s": {**lst, "samples": list_walls},
        "checks": {**counts, "phones_sampled": sampled},
        "targets": {"ratio": TARGET_RATIO, "rss_mb": TARGET_RSS_MB, "list_tag_s": TARGET_LIST_S},
        "met": {"ratio": ratio_of_medians <= TARGET_RATIO, "rss": rss < TARGET_RSS_MB,
                "list_tag": lst["median"] < TARGET_LIST_S},
        "runs_detail": runs,
    }

    def row(name: str, s: dict[str, float], unit: str = "s") -> str:
        return (f"{name:<34} {s['median']:>9.3f}{unit} {s['min']:>9.3f}{unit} "
                f"{s['max']:>9.3f}{unit}")

    print()
    print(f"import benchmark: {args.rows:,} rows, {args.runs} runs "
          f"({result['machine']['nproc']} cpu, {result['machine']['cpu']})")
    print(f"{'':<34} {'median':>10} {'min':>10} {'max':>10}")
    print(row("sqlite3 .import (baseline)", base))
    print(row("tagshare people import", subj))
    print(row("ratio (per run)", ratios, "x"))
    print(f"{'ratio of medians':<34} {ratio_of_medians:>9.2f}x   target <= {TARGET_RATIO:.0f}x "
          f"{'met' if result['met']['ratio'] else 'MISSED'}")
    print(f"{'import rate':<34} {result['import_rows_per_s']:>9,.0f} rows/s")
    print(f"{'peak RSS, tagshare import':<34} {rss:>9.1f} MB  target < {TARGET_RSS_MB:.0f} MB "
          f"{'met' if result['met']['rss'] else 'MISSED'}  (sqlite3 shell {base_rss:.1f} MB)")
    print(row("people list --tag --limit 50", lst))
    print(f"checks: people {counts['people']:,}, taggings {counts['taggings']:,}, "
          f"E.164 phones {counts['e164_phones']:,}, phones sampled {sampled}: ok")

    OUT.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = args.json or OUT / f"import-{args.rows}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
