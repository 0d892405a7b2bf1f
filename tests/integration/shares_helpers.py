"""Three real organizations for the share tests: party, campaign A, campaign B.

Each `Org` is a node made by `init_node` in its own home under tmp_path,
served by a real aiohttp server on 127.0.0.1 (port picked by the OS, then
kept across restarts) with the real sync worker (`create_app(sync=True)`).
Its config URL is the bound address before anyone pairs with it.

Changes are made the way an operator makes them while `serve` runs: through
`node/` functions on a SEPARATE connection (`org.op`, opened with
`open_node(home)`), or with the CLI through click's CliRunner (`run_cli`),
so the sync worker has to notice other processes' commits by itself.
Assertions read the database through short-lived sqlite3 connections.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
from aiohttp import web
from click.testing import CliRunner, Result

from tagshare.cli.main import cli
from tagshare.node import people, shares
from tagshare.node.client import FederationClient
from tagshare.node.home import DB_FILE
from tagshare.node.node import Node, init_node, open_node
from tagshare.node.pairing import create_invite, join
from tagshare.node.peers import slug
from tagshare.node.server import INBOX_PATH, WORKER, create_app
from tagshare.node.sync import SyncWorker
from tagshare.protocol import (
    Ack,
    Envelope,
    Item,
    Message,
    ShareBatch,
    open_envelope,
    parse_envelope,
    seal,
)

PLACEHOLDER_URL = "http://127.0.0.1:1"
PARTY, CAMPAIGN_A, CAMPAIGN_B = "Ohio Party", "Campaign A", "Campaign B"
TAG = "volunteers"
SHARE_KEYS = {"id", "direction", "peer", "tag", "fields", "status", "sync"}
SYNC_KEYS = {"pending", "last_delivery_at", "last_error", "next_retry"}
Snapshot = dict[str, list[tuple[Any, ...]]]


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DatabaseReads:
    """A node's database read (and, for tests, written) through a fresh connection each
    time, never through the connection of the node under test."""

    home: Path
    DB_TIMEOUT: ClassVar[float] = 30

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with closing(sqlite3.connect(self.home / DB_FILE, timeout=self.DB_TIMEOUT)) as conn:
            conn.row_factory = sqlite3.Row
            return conn.execute(sql, params).fetchall()

    def value(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        with closing(sqlite3.connect(self.home / DB_FILE, timeout=self.DB_TIMEOUT)) as conn:
            conn.execute("PRAGMA foreign_keys = ON")
            with conn:
                conn.execute(sql, params)


@dataclass
class Org(DatabaseReads):
    """One organization: its home, its (possibly stopped) server, an operator connection."""

    label: str
    home: Path
    pull: bool = False
    port: int = 0
    node: Node | None = None  # the server's own connection, while it runs
    runner: web.AppRunner | None = field(default=None, repr=False)
    app: web.Application | None = field(default=None, repr=False)
    sent: list[Message] = field(default_factory=list)
    _op: Node | None = field(default=None, repr=False)

    # -- identity -------------------------------------------------------------

    @property
    def op(self) -> Node:
        """A second connection, like the CLI in another terminal."""
        if self._op is None:
            self._op = open_node(self.home)
        return self._op

    @property
    def node_id(self) -> str:
        return self.op.node_id

    @property
    def name(self) -> str:
        return self.op.config.name

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def slug(self) -> str:
        return slug(self.name)

    @property
    def worker(self) -> SyncWorker:
        assert self.app is not None, f"{self.label} is not running"
        return self.app[WORKER]

    # -- running --------------------------------------------------------------

    def set_url(self, port: int) -> None:
        """Fix the port and write the matching URL into the config (before pairing)."""
        self.port = port
        node = open_node(self.home)
        try:
            node.config = dataclasses.replace(node.config, url=self.url)
            node.config.save(self.home)
        finally:
            node.close()
        if self._op is not None:
            self._op.close()
            self._op = None
        if self.node is not None:  # the running server's document names the URL too
            self.node.config = dataclasses.replace(self.node.config, url=self.url)

    async def start(self, *, listen: bool = True) -> None:
        """Open the node and serve it with the sync worker, on its port (0 the first time).

        Without `listen` only the app and its sync worker run, no port is opened
        (`serve --no-listen`): nobody can reach the node.
        """
        assert self.runner is None, f"{self.label} already runs"
        self.node = open_node(self.home)
        self.app = create_app(self.node, sync=True, pull=self.pull)
        self._record_sends(self.app[WORKER])
        self.runner = web.AppRunner(self.app, handle_signals=False)
        await self.runner.setup()
        if not listen:
            return
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await site.start()
        bound = int(self.runner.addresses[0][1])
        if bound != self.port:
            self.set_url(bound)

    def _record_sends(self, worker: SyncWorker) -> None:
        """Keep every message the worker's courier sends, decrypted (before sealing)."""
        original = worker.courier.send

        async def send(peer: sqlite3.Row, message: Message, keys: Any = None) -> Any:
            self.sent.append(message)
            return await original(peer, message, keys)

        worker.courier.send = send  # type: ignore[method-assign]

    async def stop(self) -> None:
        if self.runner is not None:
            task = worker_task(self, running=False) if self.app is not None else None
            if task is not None:
                await _cancel_for_sure(task)
            await self.runner.cleanup()
        if self.node is not None:
            self.node.close()
        self.runner = self.app = self.node = None

    async def close(self) -> None:
        await self.stop()
        if self._op is not None:
            self._op.close()
            self._op = None

    def batches(self) -> list[ShareBatch]:
        return [m for m in self.sent if isinstance(m, ShareBatch)]

    # -- reading the database: DatabaseReads (a fresh connection each time) -----

    def share(self, share_id: str) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM shares WHERE id = ?", (share_id,))
        return rows[0] if rows else None

    def status(self, share_id: str) -> str | None:
        row = self.share(share_id)
        return None if row is None else str(row["status"])

    def pending(self, share_id: str) -> int:
        return int(self.value("SELECT count(*) FROM pending WHERE share = ?", (share_id,)))

    def received_people(self, origin: Org) -> dict[str, sqlite3.Row]:
        """The people this node holds from `origin`, by the origin's uuid."""
        rows = self.query("SELECT * FROM people WHERE origin = ?", (origin.node_id,))
        return {row["origin_uuid"]: row for row in rows}

    def copy_of(self, origin: Org, uuid: str) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM people WHERE origin = ? AND origin_uuid = ?",
                          (origin.node_id, uuid))
        assert len(rows) <= 1, rows
        return rows[0] if rows else None

    def tags_of(self, person: str) -> set[str]:
        rows = self.query("SELECT t.name FROM taggings g JOIN tags t ON t.id = g.tag "
                          "WHERE g.person = ?", (person,))
        return {row[0] for row in rows}

    def received(self, share_id: str, origin_uuid: str) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM received WHERE share = ? AND origin_uuid = ?",
                          (share_id, origin_uuid))
        return rows[0] if rows else None

    def count(self, table: str, where: str = "1", params: tuple[Any, ...] = ()) -> int:
        return int(self.value(f'SELECT count(*) FROM "{table}" WHERE {where}', params))

    def snapshot(self) -> Snapshot:
        with closing(sqlite3.connect(self.home / DB_FILE, timeout=30)) as conn:
            tables = [row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            return {table: sorted(conn.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
                    for table in tables}

    # -- operator actions (a separate connection) --------------------------------

    def add_person(self, tags: tuple[str, ...] = (TAG,), **fields: str | None) -> str:
        return people.add_person(self.op, dict(fields), list(tags))

    def edit(self, uuid: str, **fields: str | None) -> None:
        people.edit_person(self.op, uuid, dict(fields))

    def grant(self, to: Org, *, tag: str = TAG, fields: str = "all",
              on_revoke: str = "purge") -> str:
        data = shares.grant_share(self.op, tag=tag, peer=to.node_id, fields=fields,
                                  on_revoke=on_revoke, note=None)
        return str(data["id"])

    def backoff(self, peer: Org, *, until: float) -> None:
        """Make this node's worker leave `peer` alone until `until` (unix seconds)."""
        self.execute(
            "INSERT INTO delivery (peer, attempts, next_attempt) VALUES (?, 1, ?) "
            "ON CONFLICT(peer) DO UPDATE SET next_attempt = excluded.next_attempt",
            (peer.node_id, until))

    def retry_now(self, peer: Org) -> None:
        self.execute("UPDATE delivery SET next_attempt = 0 WHERE peer = ?", (peer.node_id,))


def worker_task(org: Org, *, running: bool = True) -> asyncio.Task[Any] | None:
    """The task running `org`'s SyncWorker.run (created by the app's cleanup context);
    None if it has ended (only when `running` is False, else that is an error)."""
    worker = org.worker
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        frame = getattr(coro, "cr_frame", None)
        if (getattr(coro, "__qualname__", "") == "SyncWorker.run" and frame is not None
                and frame.f_locals.get("self") is worker):
            return task
    if not running:
        return None
    raise AssertionError(f"no sync worker task for {org.label}")


async def _cancel_for_sure(task: asyncio.Task[Any]) -> None:
    """Cancel until it is done: on Python 3.11 SyncWorker.run can swallow one cancel
    (see test_shares_shutdown.py), and the server's shutdown would wait forever."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)


async def wait_until(predicate: Callable[[], object], timeout: float = 10,
                     message: str = "", *, each: Callable[[], None] | None = None) -> Any:
    """Poll `predicate` every 20 ms until it is truthy (returned) or `timeout` passes.

    `each`, if given, runs before every poll (for example to cancel a backoff).
    """
    deadline = time.monotonic() + timeout
    while True:
        if each is not None:
            each()
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting: {message or predicate}")
        await asyncio.sleep(0.02)


async def pair(inviter: Org, joiner: Org, *, alias: str | None = None,
               auto_accept: bool = False) -> dict[str, object]:
    """The real flow (only the inviter's server has to run)."""
    token = create_invite(inviter.op, timedelta(hours=1), int(time.time()))
    client = FederationClient()
    try:
        return await join(joiner.op, token.encode(), alias=alias, auto_accept=auto_accept,
                          client=client, now=int(time.time()))
    finally:
        await client.close()


async def run_cli(org: Org, *args: str) -> Result:
    """`tagshare --home HOME ARGS` in a thread (commands like `sync` run their own loop)."""
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["--home", str(org.home), *args], catch_exceptions=False)
    return result


def cli_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def sealed(sender: Org, recipient: Org, message: Message) -> Envelope:
    """An envelope from `sender` to `recipient`, made with the sender's real keys."""
    return seal(sender=sender.op.keys, recipient_id=recipient.node_id,
                recipient_box_key=recipient.op.keys.box_public, message=message,
                message_id=os.urandom(16), nonce=os.urandom(24), created=int(time.time()))


async def post_inbox(recipient: Org, envelope: Envelope | bytes) -> tuple[int, dict[str, Any]]:
    body = envelope if isinstance(envelope, bytes) else envelope.to_bytes()
    async with aiohttp.ClientSession() as http, http.post(
            recipient.url + INBOX_PATH, data=body,
            headers={"Content-Type": "application/json"}) as response:
        return response.status, json.loads(await response.read())


async def send_as(sender: Org, recipient: Org, message: Message,
                  ) -> tuple[int, dict[str, Any]]:
    """POST `message` sealed by `sender`; (200, the decrypted Ack's detail) or the refusal."""
    envelope = sealed(sender, recipient, message)
    async with aiohttp.ClientSession() as http, http.post(
            recipient.url + INBOX_PATH, data=envelope.to_bytes(),
            headers={"Content-Type": "application/json"}) as response:
        status, raw = response.status, await response.read()
    if status != 200:
        return status, json.loads(raw)
    answer = open_envelope(parse_envelope(raw), recipient=sender.op.keys,
                           sender_box_key=recipient.op.keys.box_public)
    assert isinstance(answer, Ack) and answer.message_id == envelope.id, answer
    return status, answer.detail


def make_batch(granter: Org, share_id: str, seq: int, items: Iterable[Item]) -> ShareBatch:
    """A batch of the granter's share, by hand (its epoch and current terms version)."""
    row = granter.share(share_id)
    assert row is not None
    values: dict[str, Any] = {"share": share_id, "epoch": row["epoch"], "seq": seq,
                              "items": tuple(items)}
    if "terms" in {f.name for f in dataclasses.fields(ShareBatch)}:
        values["terms"] = row["terms_version"]
    return ShareBatch(**values)


def assert_unchanged(before: Snapshot, after: Snapshot) -> None:
    for table in sorted(set(before) | set(after)):
        assert after.get(table) == before.get(table), f"table {table} changed"


@dataclass
class Trio:
    party: Org
    a: Org
    b: Org

    @property
    def orgs(self) -> tuple[Org, Org, Org]:
        return self.party, self.a, self.b

    async def offer(self, to: Org, *, fields: str = "all", on_revoke: str = "purge",
                    tag: str = TAG) -> str:
        """The party grants `tag` to `to`; returns once the offer sits on `to`."""
        share_id = self.party.grant(to, tag=tag, fields=fields, on_revoke=on_revoke)
        await wait_until(lambda: to.status(share_id) == "offered", message="offer arrives")
        return share_id

    async def active(self, to: Org, *, fields: str = "all", on_revoke: str = "purge",
                     tag: str = TAG, as_tag: str | None = None) -> str:
        """Grant, accept, and wait until the party knows it is active and owes nothing."""
        share_id = await self.offer(to, fields=fields, on_revoke=on_revoke, tag=tag)
        shares.accept_share(to.op, share_id, as_tag)
        await settled(self.party, share_id)
        await wait_until(lambda: idle(to, self.party.node_id), message="the accept is sent")
        return share_id


def idle(org: Org, peer: str) -> bool:
    """`org` owes `peer` nothing and its worker is not delivering to it right now."""
    return (org.count("outbox", "peer = ?", (peer,)) == 0
            and (org.app is None or peer not in org.worker.busy))


async def settled(granter: Org, share_id: str, timeout: float = 10) -> None:
    """The share is active on the granter, every pending item was acked, and the
    granter's worker has finished that delivery (its bookkeeping is written)."""
    row = granter.share(share_id)
    assert row is not None
    peer = row["peer"]
    await wait_until(lambda: granter.status(share_id) == "active"
                     and granter.pending(share_id) == 0 and idle(granter, peer),
                     timeout, message=f"share {share_id} settles on {granter.label}")


@asynccontextmanager
async def three_orgs(tmp_path: Path, *, start_b: bool = True, pull_b: bool = False,
                     b_listens: bool = True) -> AsyncIterator[Trio]:
    """Party, campaign A and campaign B, served; the party paired with both campaigns.

    With `start_b=False` B's port is reserved and written to its config but its
    server is not started (pairing only needs the inviter's server). With
    `pull_b` B is a node nobody can reach (`init` without `--url`): it pulls;
    with `b_listens=False` too it opens no port at all (`serve --no-listen`).
    """
    party = Org("party", tmp_path / "party")
    a = Org("campaign A", tmp_path / "campaign-a")
    b = Org("campaign B", tmp_path / "campaign-b", pull=pull_b)
    for org, name in ((party, PARTY), (a, CAMPAIGN_A), (b, CAMPAIGN_B)):
        url = None if org.pull else PLACEHOLDER_URL
        init_node(org.home, name=name, url=url).close()
    trio = Trio(party, a, b)
    try:
        await party.start()
        await a.start()
        if start_b and b_listens:
            await b.start()
        else:
            b.set_url(free_port())
            if start_b:
                await b.start(listen=False)
        await pair(party, a)
        await pair(party, b)
        yield trio
    finally:
        for org in trio.orgs:
            await org.close()
