"""A node at schema version 9 upgrades to the latest with nothing lost (issue 14).

The database is a real version 9 one (built by migrations 1..9, tests/node/schema_helpers.py)
holding a row in every table that holds data: the node's own people and a copy received
from a peer, tags and taggings, an outgoing and an incoming share with their terms, the
outbox, the received ledger, contacts, donations, a tombstone, a peer, the audit log and
match reviews. After the upgrade every row of every table is still there with every
column it had, the search index finds the people, and the copy kept aside is the version 9
database, untouched.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from schema_helpers import database_at

from tagshare.node.storage import db, schema, search

NOW = "2026-01-02T03:04:05Z"
OURS = "0190a000-0000-7000-8000-000000000001"
COPY = "0190a000-0000-7000-8000-000000000002"
THEIR_UUID = "0190b000-0000-7000-8000-000000000009"
PEER = "peer-node-id"

SEED = {
    "meta": [("node_name", "county")],
    "people": [
        (OURS, None, None, "Ann", "Lopez", "ann@example.org", "+16145550101", "1 Main St",
         None, "Columbus", "OH", "43004", NOW, NOW, 3, None),
        (COPY, PEER, THEIR_UUID, "Bo", "Reyes", "bo@example.org", None, None, None, None,
         None, None, NOW, NOW, 1, None),
    ],
    "tags": [(1, "walk"), (2, "from-rivera")],
    "taggings": [(1, OURS), (2, COPY)],
    "contacts": [("0190c000-0000-7000-8000-00000000c001", OURS, "door", "talked", "yes",
                  NOW, "ann's team", None),
                 ("0190c000-0000-7000-8000-00000000c002", COPY, "phone", None, None, NOW,
                  None, PEER)],
    "donations": [("0190d000-0000-7000-8000-00000000d001", OURS, 2500, "USD", NOW, None)],
    "tombstones": [("erased-key", NOW)],
    "audit": [(1, NOW, "cli", "people.import", "{\"rows\": 2}")],
    "peers": [(PEER, "Rivera", "rivera", "https://rivera.example", "box", "{}", "active", 0,
               NOW, None, "signing")],
    "invites": [("inv1", "hash", NOW, 0, None, None)],
    "inbox_seen": [(PEER, "m1", 1)],
    "shares": [
        ("s-out", "outgoing", PEER, "walk", 1, None, "[\"name\",\"email\"]", "purge", "",
         "active", "e1", 4, 0, NOW, NOW, None, None, 1, None, None),
        ("s-in", "incoming", PEER, "volunteers", None, "from-rivera", "[\"name\",\"email\"]",
         "keep", "", "active", "e2", 0, 0, NOW, NOW, NOW, None, 1, None, None),
    ],
    "outbox": [(1, PEER, "share.offer", "{}", NOW)],
    "delivery": [(PEER, 0, 0.0, NOW, None, 0)],
    "received": [("s-in", THEIR_UUID, 7, COPY, "member", "e2")],
    "share_terms": [("s-out", 1, "[\"name\",\"email\"]", "purge", NOW, NOW)],
    "match_reviews": [(COPY, "apart", None, NOW)],
}


def _seed(path: Path) -> None:
    database_at(path, 9)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("DELETE FROM meta")
        for table, rows in SEED.items():
            marks = ", ".join("?" * len(rows[0]))
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        conn.execute("DELETE FROM pending")  # written by the triggers: nothing owed yet


def _rows(conn: sqlite3.Connection, table: str, columns: list[str]) -> set[tuple[object, ...]]:
    return {tuple(row) for row in conn.execute(f"SELECT {', '.join(columns)} FROM {table}")}


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


@pytest.fixture
def upgrade(tmp_path: Path):
    path = tmp_path / "node.db"
    _seed(path)
    with closing(sqlite3.connect(path)) as old:
        before = {table: (_columns(old, table), _rows(old, table, _columns(old, table)))
                  for table in SEED}
    conn = db.connect(path)
    yield path, conn, before
    conn.close()


def test_every_row_of_every_table_keeps_every_column(upgrade) -> None:
    _, conn, before = upgrade
    assert schema.current_version(conn) == schema.LATEST
    for table, (columns, rows) in before.items():
        assert set(columns) <= set(_columns(conn, table)), table
        assert _rows(conn, table, columns) == rows, table
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_nothing_is_sent_again_and_the_search_finds_both_people(upgrade) -> None:
    _, conn, _ = upgrade
    assert conn.execute("SELECT count(*) FROM pending").fetchone()[0] == 0
    for query, uuid in (("Lopez", OURS), ("Reyes", COPY)):
        assert search.search_people(conn, query, limit=10) == [uuid]


def test_the_version_9_database_is_kept_aside_untouched(upgrade) -> None:
    path, _, before = upgrade
    backup = path.with_name("node.db.pre-v9.bak")
    with closing(sqlite3.connect(backup)) as kept:
        assert schema.current_version(kept) == 9
        for table, (columns, rows) in before.items():
            assert _columns(kept, table) == columns, table
            assert _rows(kept, table, columns) == rows, table
