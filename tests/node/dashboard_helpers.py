"""One node's dashboard on an aiohttp test client, with a clock the test moves.

The dashboard is added to a bare aiohttp Application exactly as the admin
listener adds it (`add_dashboard`), with its own database thread. Peers and
incoming offers are written through the storage layer, as the inbox would.
"""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from tagshare.node.admin.dashboard.login import issue_login
from tagshare.node.home import DB_FILE
from tagshare.node.keystore import generate_keys
from tagshare.node.node import Node
from tagshare.node.normalize import now_iso
from tagshare.node.storage import db
from tagshare.node.storage import peers as peer_store
from tagshare.node.storage import shares as share_store

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


class MovableClock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


async def log_in(client: TestClient[Any, Any], node: Node, clock: MovableClock) -> str:
    """Follow a fresh login link; returns the session's CSRF token (read from a page)."""
    response = await client.get(f"/login/{issue_login(node, clock())}")
    assert response.status == 200, await response.text()
    page = await client.get("/invites")
    assert page.status == 200
    found = CSRF_FIELD.search(await page.text())
    assert found is not None
    return found.group(1)


def add_peer(node: Node, name: str, alias: str | None = None) -> str:
    """A paired peer as pairing stores it; returns its node id."""
    node_id = generate_keys().node_id
    with db.transaction(node.conn) as conn:
        peer_store.upsert_peer(conn, {
            "node_id": node_id, "name": name, "alias": alias, "url": "http://127.0.0.1:9",
            "box_key": "", "document": json.dumps({}), "auto_accept": 0, "added_at": now_iso()})
    return node_id


def add_offer(node: Node, peer: str, share_id: str, tag: str = "volunteers") -> None:
    """An incoming offer, as the inbox stores a share.offer."""
    with db.transaction(node.conn) as conn:
        share_store.insert_share(conn, {
            "id": share_id, "direction": "incoming", "peer": peer, "tag": tag, "tag_id": None,
            "local_tag": None, "fields": json.dumps(["name", "email"]), "on_revoke": "purge",
            "note": "", "status": "offered", "epoch": "e", "now": now_iso()})


def rows(home: Path, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    with closing(sqlite3.connect(home / DB_FILE)) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, params).fetchall()


def dump(home: Path) -> str:
    """Every row of every table, as text (to look for secrets that must not be there)."""
    with closing(sqlite3.connect(home / DB_FILE)) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        return repr({table: conn.execute(f'SELECT * FROM "{table}"').fetchall()
                     for table in tables})
