"""Plots for docs/performance.md from the benchmarks' JSON in benchmarks/out/.

    .venv/bin/pip install matplotlib      # only this script needs it; tagshare does not
    .venv/bin/python benchmarks/plot.py

Writes benchmarks/plots/latency.png (the propagation latency distribution, from
benchmarks/out/latency.json) and benchmarks/plots/sync_vs_n.png (initial sync and
CSV copy wall time vs N, median with min-max bars, from the newest
benchmarks/out/sync-*.json that has more than one N, or --sync FILE).
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=Path, default=OUT / "latency.json")
    parser.add_argument("--sync", type=Path)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
