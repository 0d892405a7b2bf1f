"""What a live batch writes beside the copies, kept to the pages it must touch.

- `received` rows are upserted (node/storage/staged.add_members): a later version of a
  member ends exactly as a freshly written row would (version, state, no epoch, no
  unseen mark, no relay origin), and its person changes only where it changed, with the
  `received_person` index agreeing.
- The outbox triggers on a person's rows ask first whether the node shares anything out
  (MIGRATION_19): a node that shares nothing queues nothing, one that does still queues
  every change of a person, contact or donation, also after upgrading from schema 18.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from received_helpers import Peer
from schema_helpers import database_at

from tagshare.node.ids import uuid7
from tagshare.node.node import open_node
from tagshare.node.received import apply_items
from tagshare.node.storage import db, schema
from tagshare.node.storage import shares as shares_store
from tagshare.protocol import Item

NOW = "2026-01-02T03:04:05Z"


@pytest.fixture
def party(node):
    return Peer(node.home, "State Party", local_tag="party")


def apply(node, party: Peer, *items: Item) -> None:
    opened = open_node(node.home)
    try:
        with db.transaction(opened.conn) as conn:
            apply_items(opened, conn, shares_store.get_share(conn, party.share), items)
    finally:
        opened.close()


def received_row(node, party: Peer, origin_uuid: str) -> dict[str, object]:
    with node.db() as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM received WHERE share = ? AND origin_uuid = ?",
                           (party.share, origin_uuid)).fetchone()
        return dict(row)


def by_person_index(node, person: str) -> list[str]:
    with node.db() as conn:
        return [r[0] for r in conn.execute(
            "SELECT origin_uuid FROM received INDEXED BY received_person WHERE person = ?",
            (person,))]


def test_a_later_version_leaves_the_row_as_a_fresh_one(node, party):
    uuid = uuid7()
    copy = party.send(uuid, first_name="Ann")
    with node.db() as conn:  # what a resend, an unseen withdraw and a relay leave behind
        conn.execute("UPDATE received SET epoch = 'old', unseen_at = 123, origin = 'relay' "
                     "WHERE origin_uuid = ?", (uuid,))
    apply(node, party, Item(op="upsert", uuid=uuid, version=7, fields={"first_name": "Ann"},
                            contacts=()))
    row = received_row(node, party, uuid)
    assert (row["version"], row["person"], row["state"]) == (7, copy, "member")
    assert (row["epoch"], row["unseen_at"], row["origin"]) == (None, None, None)
    assert by_person_index(node, copy) == [uuid]


def test_a_member_pointing_at_the_wrong_person_is_set_right_in_the_index_too(node, party):
    uuid, other = uuid7(), uuid7()
    copy = party.send(uuid, first_name="Ann")
    elsewhere = party.send(other, first_name="Bo")
    with node.db() as conn:
        conn.execute("UPDATE received SET person = ? WHERE origin_uuid = ?", (elsewhere, uuid))
    apply(node, party, Item(op="upsert", uuid=uuid, version=9, fields={"first_name": "Ann"},
                            contacts=()))
    assert received_row(node, party, uuid)["person"] == copy
    assert by_person_index(node, copy) == [uuid]
    assert by_person_index(node, elsewhere) == [other]
    with node.db() as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_stale_version_changes_no_received_row(node, party):
    uuid = uuid7()
    party.send(uuid, first_name="Ann")
    party.send(uuid, first_name="Ann B")  # version 2
    before = received_row(node, party, uuid)
    apply(node, party, Item(op="upsert", uuid=uuid, version=1, fields={"first_name": "X"},
                            contacts=()))
    assert received_row(node, party, uuid) == before


def _pending(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    return [tuple(r) for r in conn.execute("SELECT share, person FROM pending ORDER BY share")]


def _person_with_share(conn: sqlite3.Connection, status: str) -> str:
    """A person tagged `t`, and an outgoing share of `t` in `status`; the outbox emptied."""
    conn.execute("INSERT INTO tags (id, name) VALUES (1, 't')")
    conn.execute("INSERT INTO people (uuid, first_name, created_at, updated_at, version) "
                 "VALUES ('p1', 'Ann', ?, ?, 1)", (NOW, NOW))
    conn.execute("INSERT INTO taggings (tag, person) VALUES (1, 'p1')")
    conn.execute("INSERT INTO shares (id, direction, peer, tag, tag_id, fields, on_revoke, "
                 "status, epoch, created_at, updated_at) VALUES ('s1', 'outgoing', 'peer', "
                 "'t', 1, '[\"name\"]', 'keep', ?, 'e', ?, ?)", (status, NOW, NOW))
    conn.execute("DELETE FROM pending")
    return "p1"


def _change_everything(conn: sqlite3.Connection, person: str) -> None:
    conn.execute("UPDATE people SET first_name = 'Bea' WHERE uuid = ?", (person,))
    conn.execute("INSERT INTO contacts (uuid, person, method, at) VALUES ('c1', ?, 'door', ?)",
                 (person, NOW))
    conn.execute("INSERT INTO donations (uuid, person, amount_cents, currency, at) "
                 "VALUES ('d1', ?, 500, 'USD', ?)", (person, NOW))


@pytest.mark.parametrize("kind", ["person", "contact", "donation"])
def test_an_upgraded_granter_still_queues_each_kind_of_change(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "node.db"
    database_at(path, schema.MIGRATIONS.index(schema.MIGRATION_19))
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        schema.migrate(conn, path)
        assert schema.current_version(conn) == schema.LATEST
        person = _person_with_share(conn, "active")
        if kind == "person":
            conn.execute("UPDATE people SET first_name = 'Bea' WHERE uuid = ?", (person,))
        elif kind == "contact":
            conn.execute("INSERT INTO contacts (uuid, person, method, at) "
                         "VALUES ('c1', ?, 'door', ?)", (person, NOW))
        else:
            conn.execute("INSERT INTO donations (uuid, person, amount_cents, currency, at) "
                         "VALUES ('d1', ?, 500, 'USD', ?)", (person, NOW))
        assert _pending(conn) == [("s1", person)]


@pytest.mark.parametrize("status", ["offered", "revoked"])
def test_a_node_sharing_nothing_out_queues_nothing(tmp_path: Path, status: str) -> None:
    path = tmp_path / "node.db"
    database_at(path, schema.LATEST)
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        person = _person_with_share(conn, status)
        _change_everything(conn, person)
        assert _pending(conn) == []
        conn.execute("UPDATE shares SET status = 'active'")
        conn.execute("DELETE FROM pending")
        conn.execute("UPDATE people SET first_name = 'Cy' WHERE uuid = ?", (person,))
        assert _pending(conn) == [("s1", person)]


def test_the_guard_is_in_every_person_trigger_after_the_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    database_at(path, schema.MIGRATIONS.index(schema.MIGRATION_19))
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        schema.migrate(conn, path)
        names = ["pending_person_changed", *(t[0] for t in schema._RECORD_TRIGGERS)]
        for name in names:
            sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?",
                               (name,)).fetchone()[0]
            assert "WHEN EXISTS (SELECT 1 FROM shares s WHERE s.direction" in sql, name
