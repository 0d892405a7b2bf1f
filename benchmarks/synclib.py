"""Shared machinery of the sync benchmarks (bench_sync, bench_latency, bench_incremental,
bench_fanout): prepared source nodes, real `tagshare serve` processes, pairing, granting,
watching a receiver's database read-only, peak RSS, a byte-counting TCP proxy.

Nothing here is imported by tagshare itself; it drives tagshare the way an operator
does: the CLI in subprocesses, or `node/` functions on a connection of its own.

Prepared source nodes are cached (`--cache`, default /tmp/tagshare-bench-cache): a
node with N generated people (`people import --tag all`), a contact and a donation on
every fifth, checkpointed and copied for each run, so the 1,000,000-person import
(about a minute) is paid once per machine, not once per run or per benchmark.
"""

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

import gen_people  # noqa: E402

from tagshare.node.home import DB_FILE  # noqa: E402
from tagshare.node.ids import uuid7  # noqa: E402
from tagshare.node.node import open_node  # noqa: E402
from tagshare.node.storage import activity, db  # noqa: E402

HOST = "127.0.0.1"
SHARED_TAG = "all"
CACHE = Path(os.environ.get("TAGSHARE_BENCH_CACHE", "/tmp/tagshare-bench-cache"))
PYTHON = sys.executable
SERVE_CODE = "from tagshare.cli.main import main; main()"


class BenchError(Exception):
    pass


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def tagshare(*args: str, timeout: float = 900) -> str:
    """Run the CLI in its own process (as an operator would); its stdout."""
    proc = subprocess.run([PYTHON, "-c", SERVE_CODE, *args], capture_output=True, text=True,
                          cwd=REPO, timeout=timeout)
    if proc.returncode != 0:
        raise BenchError(f"tagshare {' '.join(args)} exited {proc.returncode}: "
                         f"{proc.stderr.strip()[-1500:]}")
    return proc.stdout


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def set_url(home: Path, port: int) -> None:
    """Point a node's config at the port it will serve on (before anyone pairs). It is
    reachable there, so granters push to it (an unreachable node is pulled, every 1 s)."""
    node = open_node(home)
    try:
        node.config = dataclasses.replace(node.config, url=f"http://{HOST}:{port}",
                                          reachable=True)
        node.config.save(home)
    finally:
        node.close()


def node_id(home: Path) -> str:
    node = open_node(home)
    try:
        return node.node_id
    finally:
        node.close()


def ro(home: Path) -> sqlite3.Connection:
    """A read-only connection to a node's database (never writes, never blocks the node)."""
    conn = sqlite3.connect(f"file:{home / DB_FILE}?mode=ro", uri=True,
                           check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


# -- prepared source nodes ----------------------------------------------------------------


def add_activity(home: Path, every: int = 5) -> tuple[int, int]:
    """A contact and a donation on every `every`-th person (node/ storage functions, one
    transaction, before any share exists so no outbox rows are written)."""
    node = open_node(home)
    try:
        uuids = [r[0] for r in node.conn.execute(
            "SELECT uuid FROM people WHERE origin IS NULL ORDER BY rowid")]
        chosen = uuids[::every]
        with db.transaction(node.conn) as conn:
            for i, person in enumerate(chosen):
                at = f"2026-{1 + i % 9:02d}-{1 + i % 27:02d}T1{i % 10}:00:00Z"
                activity.insert_contact(conn, {
                    "uuid": uuid7(), "person": person, "method": "door",
                    "outcome": ("supporter", "leaning", "not home")[i % 3], "note": None,
                    "at": at, "by": "bench canvasser"})
                activity.insert_donation(conn, {
                    "uuid": uuid7(), "person": person, "amount_cents": 500 + (i % 50) * 100,
                    "currency": "USD", "at": at})
        node.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return len(chosen), len(chosen)
    finally:
        node.close()


def prepared_source(rows: int, seed: int, cache: Path = CACHE) -> Path:
    """A cached node home with `rows` people tagged `all`, 1/5 with a contact and donation."""
    home = cache / f"source-{rows}-{seed}"
    done = home / ".bench-ready"
    if done.exists():
        return home
    shutil.rmtree(home, ignore_errors=True)
    csv_path = cached_csv(rows, seed, cache)
    tagshare("--home", str(home), "init", "--name", "Bench Source", "--url", f"http://{HOST}:1")
    started = time.perf_counter()
    tagshare("--home", str(home), "people", "import", str(csv_path), "--tag", SHARED_TAG,
             timeout=3600)
    log(f"prepared source: imported {rows:,} people in {time.perf_counter() - started:.1f}s")
    contacts, donations = add_activity(home)
    log(f"prepared source: {contacts:,} contacts and {donations:,} donations")
    done.write_text(json.dumps({"rows": rows, "seed": seed}))
    return home


def cached_csv(rows: int, seed: int, cache: Path = CACHE) -> Path:
    """The gen_people.py CSV of `rows` people, generated once per (rows, seed)."""
    cache.mkdir(parents=True, exist_ok=True)
    csv_path = cache / f"people-{rows}-{seed}.csv"
    if not csv_path.exists():
        gen_people.write(rows, csv_path, seed)
    return csv_path


def copy_home(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".bench-ready"))
    return dst


def new_node(home: Path, name: str) -> Path:
    # --url makes the node reachable (pushed to, not pulled); serve() sets the real port.
    tagshare("--home", str(home), "init", "--name", name, "--url", f"http://{HOST}:1")
    return home


# -- serving -------------------------------------------------------------------------------


@dataclasses.dataclass
class Server:
    home: Path
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def peak_rss_mb(self) -> float:
        """VmHWM of the serving process (its peak resident set so far), MB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise BenchError("no VmHWM")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise BenchError("no VmRSS")

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def children_usage(self) -> tuple[float, float]:
        """CPU seconds and the largest peak RSS (MB) among the serving process's live
        child processes (the decoder's worker, node/decoder.py), 0 without any."""
        cpu, peak = 0.0, 0.0
        for pid in _children(self.process.pid):
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                cpu += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) / 1024)
        return cpu, peak

    def stop(self) -> None:
        stop_process(self.process)

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-8:])
        return ""


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def serve(home: Path, port: int | None = None) -> Server:
    """`tagshare --home HOME serve` on a free port (config URL set to match first)."""
    for _attempt in range(3):
        chosen = port or free_port()
        set_url(home, chosen)
        log_path = home.with_name(home.name + ".serve.log")
        with log_path.open("wb") as handle:
            process = subprocess.Popen(
                [PYTHON, "-c", SERVE_CODE, "--home", str(home), "serve", "--host", HOST,
                 "--port", str(chosen), "--admin-port", "0"], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=handle, cwd=REPO, start_new_session=True)
        server = Server(home, chosen, process, log_path)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = log_path.read_text(errors="replace")
            if f"listening on {server.url}" in text:
                return server
            if process.poll() is not None:
                break
            time.sleep(0.02)
        server.stop()
        if "in use" not in server.tail() or port:
            raise BenchError(f"serve {home} did not start: {server.tail()}")
    raise BenchError(f"serve {home}: no free port")


def pair(inviter: Path, joiner: Path, *, auto_accept: bool = True) -> None:
    """`tagshare invite` on the inviter, `tagshare peer add TOKEN --auto-accept` on the joiner
    (the inviter must be serving)."""
    token = json.loads(tagshare("--home", str(inviter), "invite", "--json"))["token"]
    args = ["--home", str(joiner), "peer", "add", token]
    if auto_accept:
        args.append("--auto-accept")
    tagshare(*args)


def serve_and_pair(a: Path, b: Path, servers: list[Server]) -> tuple[Server, Server]:
    """Serve both nodes (each added to `servers`, for cleanup, as soon as it runs) and pair
    them, B joining A with auto-accept."""
    sa = serve(a)
    servers.append(sa)
    sb = serve(b)
    servers.append(sb)
    pair(a, b)
    return sa, sb


def add_common_options(parser: argparse.ArgumentParser, *, json: Path | None = None) -> None:
    """--seed, --cache, --workdir, --keep, --json: the same in every benchmark."""
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", type=Path, default=json)


def grant(granter: Path, peer: str, tag: str = SHARED_TAG, fields: str = "all") -> str:
    return tagshare("--home", str(granter), "share", "grant", "--tag", tag, "--to", peer,
                    "--fields", fields).strip()


class Counter:
    """Counts a receiver's people from `origin` incrementally (rowid > last seen), so a poll
    costs only the rows added since the last one, however large the table."""

    def __init__(self, home: Path, origin: str) -> None:
        self.conn = ro(home)
        self.origin = origin
        self.last_rowid = 0
        self.count = 0

    def poll(self) -> int:
        row = self.conn.execute(
            "SELECT count(*), max(rowid) FROM people WHERE rowid > ? AND +origin = ?",
            (self.last_rowid, self.origin)).fetchone()
        if row[0]:
            self.count += int(row[0])
            self.last_rowid = int(row[1])
        return self.count

    def close(self) -> None:
        self.conn.close()


def wait_count(counter: Counter, target: int, *, timeout: float, every: float = 0.05,
               servers: tuple[Server, ...] = ()) -> float:
    """Poll until `target` people from the origin are committed; monotonic time seen."""
    deadline = time.monotonic() + timeout
    while True:
        if counter.poll() >= target:
            return time.monotonic()
        now = time.monotonic()
        if now > deadline:
            raise BenchError(f"only {counter.count:,} of {target:,} arrived in {timeout:.0f}s")
        for server in servers:
            if server.process.poll() is not None:
                raise BenchError(f"serve {server.home} died: {server.tail()}")
        time.sleep(every)


def drop_arrived(conn: sqlite3.Connection, origin: str, waiting: dict[str, str]) -> None:
    """Remove from `waiting` (origin uuid -> token) the people B holds with their token."""
    items = list(waiting.items())
    for start in range(0, len(items), 500):
        chunk = dict(items[start:start + 500])
        marks = ", ".join("?" * len(chunk))
        for uuid, first in conn.execute(
                f"SELECT origin_uuid, first_name FROM people WHERE origin = ? "
                f"AND origin_uuid IN ({marks})", (origin, *chunk)):
            if first == chunk[uuid]:
                del waiting[uuid]


def counts_from(home: Path, origin: str) -> dict[str, int]:
    conn = ro(home)
    try:
        return {table: int(conn.execute(f"SELECT count(*) FROM {table} WHERE origin = ?",
                                        (origin,)).fetchone()[0])
                for table in ("people", "contacts", "donations")}
    finally:
        conn.close()


# -- a byte-counting TCP proxy ------------------------------------------------------------


class CountingProxy:
    """127.0.0.1:port -> target port; counts bytes each way. Runs in a thread of its own."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.up = 0  # client -> server (requests: what the sender POSTs, headers included)
        self.down = 0  # server -> client (responses: acks)
        self.requests = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, HOST, 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, self.target_port)
        except OSError:
            writer.close()
            return

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, up: bool) -> None:
            try:
                while data := await src.read(65536):
                    if up:
                        self.up += len(data)
                        self.requests += data.count(b"POST /")
                    else:
                        self.down += len(data)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.close()

        await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))

    def reset(self) -> None:
        self.up = self.down = self.requests = 0

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)


def point_peer_at(granter: Path, peer: str, port: int) -> None:
    """Make the granter reach `peer` at 127.0.0.1:port (the proxy), as `peers.url`."""
    conn = sqlite3.connect(granter / DB_FILE, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("UPDATE peers SET url = ? WHERE node_id = ?",
                     (f"http://{HOST}:{port}", peer))
    finally:
        conn.close()


# -- reporting -----------------------------------------------------------------------------


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "loadavg": os.getloadavg(), "code": code()}


def code() -> dict[str, Any]:
    """Which tagshare was measured: the commit, and the files changed in the working tree."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True,
                              cwd=REPO).stdout.rstrip()
    changed = [line[3:] for line in git("status", "--porcelain", "--", "node", "protocol",
                                        "cli").splitlines()]
    return {"commit": git("rev-parse", "HEAD"), "uncommitted": changed}


def write_json(name: str, result: dict[str, Any], path: Path | None = None) -> Path:
    OUT.mkdir(exist_ok=True)
    result = {"when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
              "machine": machine(), **result}
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path or OUT / f"{name}-{stamp}.json"
    target.write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {target}")
    return target


@contextlib.contextmanager
def workspace(args: argparse.Namespace, prefix: str) -> Iterator[Path]:
    """The run's scratch folder: `--workdir` if given (then kept), else a new temporary
    one, removed at the end unless `--keep`."""
    work = workdir(args.workdir, prefix)
    try:
        yield work
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def run_in_workspace(args: argparse.Namespace, name: str,
                     run: Callable[[argparse.Namespace, Path], int]) -> int:
    """A benchmark's main body: `run` in its scratch folder; a BenchError is one line
    naming the benchmark, and exit status 1."""
    with workspace(args, f"tagshare-{name.replace('_', '-')}-") as work:
        try:
            return run(args, work)
        except BenchError as exc:
            log(f"{name}: {exc}")
            return 1


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not stopped within `timeout` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def run_folder(work: Path, name: str, keep: bool) -> Iterator[Path]:
    """A new folder for one measurement of a run, removed after it unless `keep`."""
    folder = work / name
    folder.mkdir(parents=True)
    try:
        yield folder
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def workdir(given: Path | None, prefix: str) -> Path:
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        return given
    return Path(tempfile.mkdtemp(prefix=prefix))
