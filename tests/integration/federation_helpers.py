"""Real nodes on 127.0.0.1 for the integration tests: a clock, a server, pairing, snapshots.

Each `RunningNode` is a node made by `init_node` in its own home under
tmp_path, served by a real aiohttp server on a port the OS picked, with its
config URL rewritten to that port before anyone pairs with it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tagshare.node.client import FederationClient
from tagshare.node.home import DB_FILE
from tagshare.node.identity import node_document
from tagshare.node.node import Node
from tagshare.node.pairing import create_invite, join
from tagshare.node.server import INBOX_PATH
from tagshare.protocol import (
    Envelope,
    InviteToken,
    Message,
    NodeKeys,
    Ping,
    b64u_encode,
    make_pair_request,
    seal,
    sign_document,
)

JSON_HEADERS = {"Content-Type": "application/json"}
StartNode = Callable[..., Awaitable["RunningNode"]]
Snapshot = dict[str, list[tuple[Any, ...]]]


class FakeClock:
    """Unix seconds that only move when a test says so (passed to create_app)."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += seconds


@dataclass
class RunningNode:
    node: Node
    url: str
    clock: FakeClock
    runner: web.AppRunner = field(repr=False)

    @property
    def node_id(self) -> str:
        return self.node.node_id

    @property
    def keys(self) -> NodeKeys:
        return self.node.keys

    @property
    def home(self) -> Path:
        return self.node.home

    @property
    def name(self) -> str:
        return self.node.config.name

    def snapshot(self) -> Snapshot:
        """Every row of every table, read through a connection of its own."""
        with closing(sqlite3.connect(self.home / DB_FILE)) as conn:
            tables = [row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            return {table: sorted(conn.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
                    for table in tables}

    def rows(self, table: str) -> list[sqlite3.Row]:
        with closing(sqlite3.connect(self.home / DB_FILE)) as conn:
            conn.row_factory = sqlite3.Row
            return conn.execute(f'SELECT * FROM "{table}"').fetchall()


def counts(snapshot: Snapshot) -> dict[str, int]:
    return {table: len(rows) for table, rows in snapshot.items()}


def assert_unchanged(before: Snapshot, after: Snapshot, *, grown: dict[str, int] | None = None,
                     ) -> None:
    """Nothing changed, except that the tables in `grown` gained exactly that many rows."""
    grown = grown or {}
    for table in sorted(set(before) | set(after)):
        if table in grown:
            assert len(after[table]) == len(before[table]) + grown[table], table
            assert set(before[table]) <= set(after[table]), table
        else:
            assert after.get(table) == before.get(table), f"table {table} changed"


async def pair(inviter: RunningNode, joiner: RunningNode, *, alias: str | None = None,
               ) -> dict[str, object]:
    """The real flow: the inviter makes an invite; the joiner fetches, verifies and POSTs."""
    token = create_invite(inviter.node, timedelta(hours=1), inviter.clock())
    return await join_with(joiner, token.encode(), alias=alias)


async def join_with(joiner: RunningNode, token_text: str, *, alias: str | None = None,
                    ) -> dict[str, object]:
    client = FederationClient()
    try:
        return await join(joiner.node, token_text, alias=alias, auto_accept=False,
                          client=client, now=joiner.clock())
    finally:
        await client.close()


def sealed(sender: NodeKeys, recipient: RunningNode, *, created: int,
           message: Message | None = None, recipient_id: str | None = None,
           box_key: bytes | None = None) -> Envelope:
    """An envelope from `sender` to `recipient` (override the address or box key to lie)."""
    return seal(sender=sender, recipient_id=recipient_id or recipient.node_id,
                recipient_box_key=box_key or recipient.keys.box_public,
                message=message or Ping(), message_id=os.urandom(16),
                nonce=os.urandom(24), created=created)


def pair_request(joiner: RunningNode | NodeKeys, token: InviteToken, *, created: int,
                 secret: bytes | None = None, name: str = "Stranger",
                 url: str = "http://127.0.0.1:9") -> bytes:
    """The body of POST /federation/v1/pair, optionally with another secret."""
    if secret is not None:
        token = dataclasses.replace(token, secret=b64u_encode(secret))
    if isinstance(joiner, RunningNode):
        keys, document = joiner.keys, node_document(joiner.node, created)
    else:
        keys = joiner
        document = sign_document(keys, name=name, url=url, created=created,
                                 valid_until=created + 86_400)
    return make_pair_request(joiner=keys, joiner_document=document, token=token,
                             message_id=os.urandom(16), nonce=os.urandom(24), created=created)


async def post(http: aiohttp.ClientSession, target: RunningNode, path: str,
               body: Any, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    async with http.post(target.url + path, data=body,
                         headers=headers or JSON_HEADERS) as response:
        return response.status, await response.read()


async def post_inbox(http: aiohttp.ClientSession, target: RunningNode, body: Any,
                     ) -> tuple[int, bytes]:
    return await post(http, target, INBOX_PATH, body)


def assert_refusal(status: int, body: bytes, expected_status: int, code: str) -> None:
    """The refusal shape: the status and {"error": CODE, "message": TEXT}, nothing else."""
    assert status == expected_status, body
    payload = json.loads(body)
    assert set(payload) == {"error", "message"}, payload
    assert payload["error"] == code, payload
    assert isinstance(payload["message"], str) and payload["message"], payload


async def expect_refusal(http: aiohttp.ClientSession, target: RunningNode, path: str,
                         body: Any, *, status: int, code: str, nodes: list[RunningNode],
                         grown: dict[str, int] | None = None,
                         headers: dict[str, str] | None = None) -> None:
    """POST `body`, check the refusal, and that no database in `nodes` changed."""
    before = [node.snapshot() for node in nodes]
    answer_status, answer = await post(http, target, path, body, headers)
    assert_refusal(answer_status, answer, status, code)
    for node, snapshot in zip(nodes, before, strict=True):
        assert_unchanged(snapshot, node.snapshot(), grown=grown if node is target else None)
