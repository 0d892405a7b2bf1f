"""Real `tagshare serve` processes for the fault tests, and the convergence check.

A `ServeNode` is a node home plus a `tagshare serve` subprocess on a fixed
127.0.0.1 port (picked free once, written to the config before pairing, kept
across restarts so peers find it again). `kill9()` sends SIGKILL: no
shutdown code runs, whatever transaction the process had open is cut.

The test process plays the operator: it writes to each node's database
through its own connection (`op`, like the CLI in another terminal) and reads
state through short-lived sqlite3 connections.

`shared_state` / `received_state` / `assert_converged` are the check every
fault test ends with: for every person tagged on the sender, the subscriber
holds exactly one copy (origin = sender id, origin_uuid = uuid) whose every
person field equals the sender's; nobody else from the sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from shares_helpers import DatabaseReads, free_port

from tagshare.node import shares
from tagshare.node.client import FederationClient
from tagshare.node.ids import uuid7
from tagshare.node.node import Node, init_node, open_node
from tagshare.node.pairing import create_invite, join
from tagshare.node.storage import db
from tagshare.node.storage import people as people_store
from tagshare.node.storage.people import PERSON_FIELDS

HOST = "127.0.0.1"
SERVE_CODE = "from tagshare.cli.main import main; main()"
START_TIMEOUT = 20.0
TAG = "volunteers"
LONG = os.environ.get("TAGSHARE_LONG_FAULTS") == "1"
SEED = int(os.environ.get("TAGSHARE_FAULT_SEED", "7"))
# BUG (see tests/faults/test_faults_outbox.py::test_retag_while_pending_reaches_the_subscriber):
# tagging a person who still has a pending row is lost (the outer INSERT OR IGNORE of
# add_taggings turns the trigger's INSERT OR REPLACE into an IGNORE). Until it is fixed the
# random editors do not retag such a person, so the fault tests stay deterministic; set this
# to False once the fix lands.
AVOID_RETAG_BUG = False
FIRST = ("Ana", "Ben", "Chloé", "Dmitri", "Eun-ji", "Farah", "Gus", "Hà", "Ivo", "Jun")
LAST = ("Rivera", "O'Neil", "Chen", "Okafor", "Müller", "Nguyễn", "Smith", "Kowalski")


@dataclass(frozen=True)
class Scale:
    people: int
    kills: int


# Several snapshot chunks (node/snapshot.py: CHUNK_PEOPLE, 5,000 people each), so that
# the mid-sync kills cut a chunked first sync.
SHORT = Scale(people=20_000, kills=3)
FULL = Scale(people=50_000, kills=20)
SCALES = [pytest.param(SHORT, id="short"),
          pytest.param(FULL, id="long", marks=pytest.mark.skipif(
              not LONG, reason="long fault run: set TAGSHARE_LONG_FAULTS=1"))]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
             every: float = 0.02) -> Any:
    """Poll until `predicate()` is truthy (returned); AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


@dataclass
class ServeNode(DatabaseReads):
    DB_TIMEOUT: ClassVar[float] = 60  # these tests always waited up to 60 s for a lock

    label: str
    home: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    _op: Node | None = field(default=None, repr=False)

    @classmethod
    def create(cls, root: Path, label: str) -> ServeNode:
        port = free_port()
        home = root / label
        init_node(home, name=f"{label.title()} Org", url=f"http://{HOST}:{port}").close()
        return cls(label=label, home=home, port=port)

    # -- the process ------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log(self) -> Path:
        return self.home.with_suffix(".log")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Spawn `tagshare serve` on the node's port; return once it listens."""
        assert not self.running, f"{self.label} already runs"
        for _attempt in range(50):  # the port of a killed process can take a moment to free
            offset = self.log.stat().st_size if self.log.exists() else 0
            with self.log.open("ab") as log:
                self.process = subprocess.Popen(
                    [sys.executable, "-c", SERVE_CODE, "--home", str(self.home), "serve",
                     "--host", HOST, "--port", str(self.port), "--admin-port", "0"],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                    start_new_session=True)
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                text = self._log_since(offset)
                if f"listening on {self.url}" in text:
                    self.starts += 1
                    return
                if self.process.poll() is not None:
                    self.process.wait()
                    if "already in use" in text or "cannot listen" in text:
                        break
                    raise AssertionError(f"{self.label} did not start: {text[-2000:]}")
                if time.monotonic() > deadline:
                    self.kill9()
                    raise AssertionError(f"{self.label} did not start in time: {text[-2000:]}")
                time.sleep(0.01)
            time.sleep(0.1)
        raise AssertionError(f"{self.label}: port {self.port} stayed taken")

    def _log_since(self, offset: int) -> str:
        with self.log.open("rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", "replace")

    def kill9(self) -> None:
        """SIGKILL: no cleanup, no commit of anything in flight."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
            self.kills += 1
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop within 10 s."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait(timeout=30)
        self.process = None

    def tracebacks(self) -> list[str]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines() if "Traceback" in line]

    # -- the database --------------------------------------------------------------------

    @property
    def op(self) -> Node:
        if self._op is None:
            self._op = open_node(self.home)
        return self._op

    @property
    def node_id(self) -> str:
        return self.op.node_id

    def close(self) -> None:
        self.stop()
        if self._op is not None:
            self._op.close()
            self._op = None

    def integrity(self) -> str:
        return str(self.value("PRAGMA integrity_check"))

    def status(self, share_id: str) -> str | None:
        return self.value("SELECT status FROM shares WHERE id = ?", (share_id,))

    def pending(self, share_id: str) -> int:
        return int(self.value("SELECT count(*) FROM pending WHERE share = ?", (share_id,)))


# -- setting up a pair and a share ---------------------------------------------------------


def pair(inviter: ServeNode, joiner: ServeNode) -> None:
    """The real invite flow; the inviter's server must run."""
    token = create_invite(inviter.op, timedelta(hours=1), int(time.time()))

    async def run() -> None:
        client = FederationClient()
        try:
            await join(joiner.op, token.encode(), alias=None, auto_accept=False,
                       client=client, now=int(time.time()))
        finally:
            await client.close()

    asyncio.run(run())


def load_people(node: ServeNode, count: int, rng: random.Random, *, tag: str = TAG,
                chunk: int = 5000) -> list[str]:
    """Insert `count` tagged people in a few big transactions (fast, as an import would)."""
    uuids: list[str] = []
    conn = node.op.conn
    with db.transaction(conn):
        tag_id = people_store.tag_id(conn, tag, create=True) or 0
    for start in range(0, count, chunk):
        rows = [person_row(rng, start + i) for i in range(min(chunk, count - start))]
        with db.transaction(conn):
            people_store.insert_people(conn, rows)
            people_store.add_taggings(conn, [(tag_id, str(r["uuid"])) for r in rows])
        uuids.extend(str(r["uuid"]) for r in rows)
    return uuids


def person_row(rng: random.Random, n: int) -> dict[str, object]:
    now = "2024-01-01T00:00:00Z"
    return {"uuid": uuid7(), "first_name": rng.choice(FIRST), "last_name": rng.choice(LAST),
            "email": f"p{n}-{rng.randrange(10**9)}@example.org",
            "phone": f"+1614555{rng.randrange(10**4):04d}", "address1": f"{n} Main St",
            "city": "Columbus", "state": "OH", "zip": f"43{rng.randrange(1000):03d}",
            "created_at": now, "updated_at": now}


def grant_and_accept(sender: ServeNode, subscriber: ServeNode, *, fields: str = "all",
                     timeout: float = 30) -> str:
    """Grant TAG to the subscriber and accept it there; returns the share id."""
    data = shares.grant_share(sender.op, tag=TAG, peer=subscriber.node_id, fields=fields,
                              on_revoke="purge", note=None)
    share_id = str(data["id"])
    wait_for(lambda: subscriber.status(share_id) == "offered", timeout, "the offer")
    shares.accept_share(subscriber.op, share_id, None)
    return share_id


# -- the convergence check -------------------------------------------------------------------

State = dict[str, tuple[Any, ...]]


def shared_state(sender: ServeNode, tag: str = TAG) -> State:
    """uuid -> person fields, for every local person tagged `tag` on the sender."""
    cols = ", ".join(f"p.{c}" for c in PERSON_FIELDS)
    rows = sender.query(
        f"SELECT p.uuid, {cols} FROM people p JOIN taggings g ON g.person = p.uuid "
        "JOIN tags t ON t.id = g.tag WHERE t.name = ? AND p.origin IS NULL", (tag,))
    return {row[0]: tuple(row[1:]) for row in rows}


def received_state(subscriber: ServeNode, origin: str) -> tuple[State, list[str]]:
    """origin uuid -> person fields of the subscriber's copies; and duplicated origin uuids."""
    cols = ", ".join(PERSON_FIELDS)
    rows = subscriber.query(f"SELECT origin_uuid, {cols} FROM people WHERE origin = ?",
                            (origin,))
    state: State = {}
    duplicates: list[str] = []
    for row in rows:
        if row[0] in state:
            duplicates.append(row[0])
        state[row[0]] = tuple(row[1:])
    return state, duplicates


def differences(sender: ServeNode, subscriber: ServeNode) -> dict[str, Any]:
    want = shared_state(sender)
    have, duplicates = received_state(subscriber, sender.node_id)
    stale = {}
    for uuid in set(want) & set(have):
        if want[uuid] != have[uuid]:
            stale[uuid] = {f: (w, h) for f, w, h in zip(PERSON_FIELDS, want[uuid], have[uuid],
                                                         strict=True) if w != h}
    return {"missing": sorted(set(want) - set(have)), "extra": sorted(set(have) - set(want)),
            "duplicated": duplicates, "stale": stale, "people": len(want)}


def converged(sender: ServeNode, subscriber: ServeNode, share_id: str) -> bool:
    if sender.pending(share_id) or sender.value("SELECT count(*) FROM outbox"):
        return False
    diff = differences(sender, subscriber)
    return not (diff["missing"] or diff["extra"] or diff["duplicated"] or diff["stale"])


def assert_converged(sender: ServeNode, subscriber: ServeNode, share_id: str,
                     timeout: float) -> dict[str, Any]:
    """Wait for the share to settle and the copies to match, then check field by field."""
    deadline = time.monotonic() + timeout
    while not converged(sender, subscriber, share_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    diff = differences(sender, subscriber)
    short = {k: (v if not isinstance(v, list | dict) else
                 (len(v), list(v)[:3] if isinstance(v, list) else dict(list(v.items())[:3])))
             for k, v in diff.items()}
    assert not diff["missing"], f"people missing on the subscriber: {short}"
    assert not diff["extra"], f"people the subscriber should not hold: {short}"
    assert not diff["duplicated"], f"duplicated copies: {short}"
    assert not diff["stale"], f"stale values: {short}"
    assert sender.pending(share_id) == 0, "the sender still owes items"
    members = subscriber.value(
        "SELECT count(*) FROM received WHERE share = ? AND state = 'member'", (share_id,))
    assert members == diff["people"], (members, diff["people"])
    return diff


# -- live edits, as the operator makes them --------------------------------------------------


@dataclass
class Editor:
    """Seeded random changes to the sender's shared people, each its own transaction."""

    node: ServeNode
    rng: random.Random
    people: list[str]
    done: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    def one(self) -> None:
        from tagshare.node import people as ops

        op = self.node.op
        roll = self.rng.random()
        uuid = self.rng.choice(self.people)
        if roll < 0.6:
            kind = "edit"
            ops.edit_person(op, uuid, {"first_name": f"{self.rng.choice(FIRST)}{self.done}",
                                       "city": self.rng.choice(("Akron", "Dayton", "Toledo"))})
        elif roll < 0.75:
            kind = "untag"
            ops.remove_tags(op, uuid, [TAG])
        elif roll < 0.85:
            kind = "retag"
            if AVOID_RETAG_BUG and self.node.value(
                    "SELECT count(*) FROM pending WHERE person = ?", (uuid,)):
                kind = "retag_skipped"  # see test_retag_while_pending_reaches_the_subscriber
            else:
                ops.add_tags(op, uuid, [TAG])
        elif roll < 0.92:
            kind = "add"
            self.people.append(ops.add_person(op, {"first_name": f"New{self.done}",
                                                   "last_name": "Person"}, [TAG]))
        else:
            kind = "erase"
            ops.erase_person(op, uuid)
            self.people.remove(uuid)
        self.done += 1
        self.kinds[kind] = self.kinds.get(kind, 0) + 1


def edits_for(editor: Editor, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        editor.one()


@contextlib.contextmanager
def nodes(root: Path, *labels: str) -> Iterator[list[ServeNode]]:
    made = [ServeNode.create(root, label) for label in labels]
    try:
        yield made
    finally:
        for node in made:
            node.close()
