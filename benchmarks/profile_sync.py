"""Profile an initial sync: py-spy samples both `tagshare serve` processes.

    .venv/bin/pip install py-spy
    python benchmarks/profile_sync.py --rows 100000 --out benchmarks/out/profile

Same setup as bench_sync (prepared source A, fresh B, pair, grant `all` with all
fields); `py-spy record --format raw` is attached to each serve process just before
the grant and stopped once B holds every person. Writes the collapsed stacks
(sender.txt, receiver.txt) and prints, per process, the functions with the most
samples: own (self) and inclusive (total), as a share of the samples.
"""

import argparse
import collections
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import synclib
from synclib import log


def top(raw: Path, limit: int) -> list[str]:
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0] + ")"
                  if " (" in f else f for f in stack.split(";")]
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    lines = [f"{samples} samples"]
    lines += [f"  self {100 * n / samples:5.1f}%  {name}" for name, n in own.most_common(limit)]
    lines += [f"  total {100 * n / samples:5.1f}%  {name}"
              for name, n in total.most_common(limit * 2)]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=synclib.OUT / "profile")
    parser.add_argument("--cache", type=Path, default=synclib.CACHE)
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    args.out.mkdir(parents=True, exist_ok=True)
    work = synclib.workdir(None, "tagshare-profile-sync-")
    source = synclib.prepared_source(args.rows, args.seed, args.cache)
    a = synclib.copy_home(source, work / "a")
    b = synclib.new_node(work / "b", "Bench Receiver")
    servers, spies = [], []
    try:
        sa, sb = synclib.serve(a), synclib.serve(b)
        servers += [sa, sb]
        synclib.pair(a, b)
        a_id, b_id = synclib.node_id(a), synclib.node_id(b)
        counter = synclib.Counter(b, a_id)
        for name, server in (("sender", sa), ("receiver", sb)):
            spies.append((name, subprocess.Popen(
                [py_spy, "record", "--pid", str(server.process.pid), "--rate", str(args.rate),
                 "--format", "raw", "--output", str(args.out / f"{name}.txt"), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
        time.sleep(1.0)
        started = time.monotonic()
        synclib.grant(a, b_id)
        synclib.wait_count(counter, args.rows, timeout=3600, servers=(sa, sb))
        log(f"sync of {args.rows:,} under py-spy: {time.monotonic() - started:.2f}s")
        for _name, spy in spies:
            spy.send_signal(signal.SIGINT)
        for _name, spy in spies:
            spy.wait(timeout=60)
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    for name, _spy in spies:
        print(f"\n== {name}")
        print("\n".join(top(args.out / f"{name}.txt", args.top)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
