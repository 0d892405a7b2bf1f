"""Plots for docs/performance.md from the benchmarks' JSON in benchmarks/out/.

    .venv/bin/pip install matplotlib      # only this script needs it; tagshare does not
    .venv/bin/python benchmarks/plot.py

Writes benchmarks/plots/latency.png (the propagation latency distribution, from
benchmarks/out/latency.json) and benchmarks/plots/sync_vs_n.png (initial sync and
CSV copy wall time vs N, median with min-max bars, from the newest
benchmarks/out/sync-*.json that has more than one N, or --sync FILE) and
benchmarks/plots/statewide.png (bench_statewide.py at each number of nodes: one
edit reaching every node, 10,000 changes converging, and the party's CPU per edit
against its peers; the newest benchmarks/out/statewide*.json per node count of 30
or more, or --statewide FILE ...).
"""

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
PLOTS = HERE / "plots"


def latency_plot(path: Path, target: Path) -> None:
    data = json.loads(path.read_text())
    lat = sorted(data["latencies_ms"])
    stats = data["latency_ms"]
    fig, (hist, cdf) = plt.subplots(1, 2, figsize=(11, 4))
    hist.hist(lat, bins=60, color="#4477aa")
    hist.set_xlabel("commit on A -> visible on B (ms)")
    hist.set_ylabel("changes")
    hist.set_title(f"{data['changes']} changes at {data['achieved_rate']:.0f}/s, "
                   f"{data['rows']:,}-person share")
    for name, colour in (("p50", "green"), ("p99", "red")):
        hist.axvline(stats[name], color=colour, linestyle="--",
                     label=f"{name} {stats[name]:.0f} ms")
    hist.axvline(50, color="green", alpha=0.3, label="p50 target 50 ms")
    hist.axvline(250, color="red", alpha=0.3, label="p99 target 250 ms")
    hist.legend()
    cdf.plot(lat, [(i + 1) / len(lat) for i in range(len(lat))], color="#4477aa")
    cdf.set_xlabel("latency (ms)")
    cdf.set_ylabel("fraction of changes")
    cdf.set_title("cumulative distribution")
    cdf.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    print(f"wrote {target}")


def sync_plot(path: Path, target: Path) -> None:
    data = json.loads(path.read_text())
    sizes = data["sizes"]
    n = [s["rows"] for s in sizes]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label, colour in (("sync_s", "tagshare initial sync (serve -> serve)", "#cc6677"),
                               ("csv_copy_s", "CSV copy (sqlite3 export + import)", "#4477aa")):
        med = [s[key]["median"] for s in sizes]
        low = [s[key]["median"] - s[key]["min"] for s in sizes]
        high = [s[key]["max"] - s[key]["median"] for s in sizes]
        ax.errorbar(n, med, yerr=[low, high], marker="o", capsize=4, label=label, color=colour)
        for x, y in zip(n, med, strict=False):
            ax.annotate(f"{y:.1f} s", (x, y), textcoords="offset points", xytext=(6, -12))
    target_1_4 = [1.4 * s["csv_copy_s"]["median"] for s in sizes]
    ax.plot(n, target_1_4, linestyle=":", color="gray", label="target: 1.4x the CSV copy")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("people shared (N)")
    ax.set_ylabel("wall time (s), median of runs, min-max bars")
    ax.set_title(f"initial sync vs N ({data['runs']} runs each)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    print(f"wrote {target}")


def newest_statewide() -> list[Path]:
    """The newest statewide result for each number of nodes (30 or more)."""
    newest: dict[int, Path] = {}
    for path in sorted(OUT.glob("statewide*.json"), key=lambda p: p.stat().st_mtime):
        nodes = int(json.loads(path.read_text()).get("nodes", 0))
        if nodes >= 30:
            newest[nodes] = path
    return [newest[n] for n in sorted(newest)]


def statewide_plot(paths: list[Path], target: Path) -> None:
    runs = sorted((json.loads(p.read_text()) for p in paths), key=lambda d: d["nodes"])
    nodes = [d["nodes"] for d in runs]
    fig, (edit, changes, party) = plt.subplots(1, 3, figsize=(14, 4.2))
    edit.plot(nodes, [d["edit_s"]["median"] for d in runs], marker="o", label="median")
    edit.plot(nodes, [d["edit_s"]["p99"] for d in runs], marker="o", label="p99")
    edit.axhline(2.0, color="gray", linestyle=":", label="median target 2 s")
    edit.set_title("one edit at the party reaching every node")
    edit.set_ylabel("seconds")
    changes.plot(nodes, [d["changes_s"] for d in runs], marker="o", label="converged")
    changes.plot(nodes, [d["changes_committed_s"] for d in runs], marker="o",
                 label="committed at the party")
    changes.axhline(60.0, color="gray", linestyle=":", label="target 60 s")
    changes.set_title("10,000 changes at the party")
    party.plot(nodes, [d["party_cpu_per_edit_ms"] for d in runs], marker="o",
               label="party CPU per edit (ms)")
    party.set_title("the party's work as the network grows")
    for ax in (edit, changes, party):
        ax.set_xlabel("nodes")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"statewide, route {runs[-1].get('route', 'reshare')}: "
                 + ", ".join(f"{d['nodes']} nodes load {d['load_changes'].split()[0]}"
                             for d in runs), fontsize=9)
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    print(f"wrote {target}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=Path, default=OUT / "latency.json")
    parser.add_argument("--sync", type=Path)
    parser.add_argument("--statewide", type=Path, nargs="*")
    args = parser.parse_args(argv)
    PLOTS.mkdir(exist_ok=True)
    if args.latency.exists():
        latency_plot(args.latency, PLOTS / "latency.png")
    sync = args.sync
    if sync is None:
        candidates = sorted((p for p in OUT.glob("sync-*.json")
                             if len(json.loads(p.read_text())["sizes"]) > 1),
                            key=lambda p: p.stat().st_mtime)
        sync = candidates[-1] if candidates else None
    if sync is not None and sync.exists():
        sync_plot(sync, PLOTS / "sync_vs_n.png")
    statewide = args.statewide or newest_statewide()
    if statewide:
        statewide_plot(statewide, PLOTS / "statewide.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
