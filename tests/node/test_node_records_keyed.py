"""Contacts and donations are keyed by (origin, uuid) since MIGRATION_11: a peer's record
can never replace, move or delete one this node, or another peer, originated.

The upgrade is tested from a real version 9 database (built by migrations 1..9) that
holds the node's own and received records and an active outgoing share: every record
survives, and the outbox triggers still fire on the rebuilt tables.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from schema_helpers import database_at

from tagshare.node.storage import activity, db, schema
from tagshare.node.storage import received as inbound

PEER_X, PEER_Y = "peer-x", "peer-y"
OURS, THEIRS = "0190a000-0000-7000-8000-000000000001", "0190a000-0000-7000-8000-000000000002"
SHARED_CONTACT = "0190c000-0000-7000-8000-00000000c001"
SHARED_DONATION = "0190d000-0000-7000-8000-00000000d001"
NOW = "2026-01-02T03:04:05Z"


def _seed_version_9(path: Path) -> None:
    """Our person (tagged, in an active outgoing share) with our contact and donation;
    a copy received from peer X with X's contact and donation."""
    database_at(path, 9)
    with sqlite3.connect(path) as conn:
        for uuid, origin in ((OURS, None), (THEIRS, PEER_X)):
            conn.execute("INSERT INTO people (uuid, origin, origin_uuid, first_name, "
                         "created_at, updated_at) VALUES (?, ?, ?, 'Ann', ?, ?)",
                         (uuid, origin, uuid if origin else None, NOW, NOW))
        conn.execute("INSERT INTO tags (id, name) VALUES (1, 'walk')")
        conn.execute("INSERT INTO taggings (tag, person) VALUES (1, ?)", (OURS,))
        conn.execute("INSERT INTO shares (id, direction, peer, tag, tag_id, fields, on_revoke, "
                     "status, epoch, created_at, updated_at) VALUES ('s1', 'outgoing', ?, "
                     "'walk', 1, '[\"contacts\"]', 'purge', 'active', 'e', ?, ?)",
                     (PEER_Y, NOW, NOW))
        conn.executemany(
            "INSERT INTO contacts (uuid, person, method, note, at, origin) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(SHARED_CONTACT, OURS, "door", "ours", NOW, None),
             ("0190c000-0000-7000-8000-00000000c002", THEIRS, "phone", "x's", NOW, PEER_X)])
        conn.executemany(
            "INSERT INTO donations (uuid, person, amount_cents, currency, at, origin) "
            "VALUES (?, ?, ?, 'USD', ?, ?)",
            [(SHARED_DONATION, OURS, 25000, NOW, None),
             ("0190d000-0000-7000-8000-00000000d002", THEIRS, 500, NOW, PEER_X)])
        conn.execute("DELETE FROM pending")


def _records(conn: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    columns = {"contacts": "uuid, person, method, outcome, note, at, by, origin",
               "donations": "uuid, person, amount_cents, currency, at, origin"}
    return {table: sorted(tuple(row) for row in conn.execute(
        f"SELECT {columns[table]} FROM {table}")) for table in ("contacts", "donations")}


@pytest.fixture
def upgraded(tmp_path: Path) -> tuple[sqlite3.Connection, dict[str, list[tuple[object, ...]]]]:
    path = tmp_path / "node.db"
    _seed_version_9(path)
    with sqlite3.connect(path) as old:
        before = _records(old)
    conn = db.connect(path)
    assert (tmp_path / "node.db.pre-v9.bak").exists()
    return conn, before


def test_the_upgrade_keeps_every_record_and_the_schema_is_latest(upgraded) -> None:
    conn, before = upgraded
    assert schema.current_version(conn) == schema.LATEST
    assert _records(conn) == before
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM pending").fetchone()[0] == 0  # nothing re-sent


@pytest.mark.parametrize("table", ["contacts", "donations"])
def test_outbox_triggers_fire_on_the_rebuilt_tables(upgraded, table) -> None:
    conn, _ = upgraded
    with db.transaction(conn):
        if table == "contacts":
            activity.insert_contact(conn, {"uuid": "0190c000-0000-7000-8000-00000000c003",
                                           "person": OURS, "method": "text", "outcome": None,
                                           "note": None, "at": NOW, "by": None})
        else:
            activity.insert_donation(conn, {"uuid": "0190d000-0000-7000-8000-00000000d003",
                                            "person": OURS, "amount_cents": 100,
                                            "currency": "USD", "at": NOW})
    pending = conn.execute("SELECT share, person, version FROM pending").fetchall()
    assert [(row[0], row[1]) for row in pending] == [("s1", OURS)]
    first = pending[0][2]
    with db.transaction(conn):
        conn.execute(f"UPDATE {table} SET at = ? WHERE person = ? AND origin IS NULL",
                     ("2026-01-03T00:00:00Z", OURS))
    second = conn.execute("SELECT version FROM pending").fetchone()[0]
    with db.transaction(conn):
        conn.execute(f"DELETE FROM {table} WHERE person = ? AND origin IS NULL", (OURS,))
    third = conn.execute("SELECT version FROM pending").fetchone()[0]
    assert first < second < third


def test_our_own_uuids_stay_unique(upgraded) -> None:
    conn, _ = upgraded
    with pytest.raises(sqlite3.IntegrityError), db.transaction(conn):
        activity.insert_contact(conn, {"uuid": SHARED_CONTACT, "person": OURS, "method": "door",
                                       "outcome": None, "note": None, "at": NOW, "by": None})


def test_a_peer_naming_our_uuids_gets_records_of_its_own(upgraded) -> None:
    """Peer X sends a contact and a donation with the uuids of ours, on its own person:
    they are stored as X's; ours are unchanged. Then an empty list removes only X's."""
    conn, before = upgraded
    forged_contact = {"uuid": SHARED_CONTACT, "method": "door", "outcome": "moved",
                      "note": "forged", "at": NOW, "by": "X"}
    forged_donation = {"uuid": SHARED_DONATION, "amount_cents": 100, "currency": "USD",
                       "at": NOW}
    with db.transaction(conn):
        inbound.sync_received_records(conn, "contacts", PEER_X, {THEIRS: [forged_contact]})
        inbound.sync_received_records(conn, "donations", PEER_X, {THEIRS: [forged_donation]})
    ours = conn.execute("SELECT note, person FROM contacts WHERE uuid = ? AND origin IS NULL",
                        (SHARED_CONTACT,)).fetchone()
    assert tuple(ours) == ("ours", OURS)
    theirs = conn.execute("SELECT note, person FROM contacts WHERE uuid = ? AND origin = ?",
                          (SHARED_CONTACT, PEER_X)).fetchone()
    assert tuple(theirs) == ("forged", THEIRS)
    assert conn.execute("SELECT amount_cents, person FROM donations WHERE uuid = ? "
                        "AND origin IS NULL", (SHARED_DONATION,)).fetchone()[:] == (25000, OURS)
    with db.transaction(conn):
        inbound.sync_received_records(conn, "contacts", PEER_X, {THEIRS: [], OURS: []})
        inbound.sync_received_records(conn, "donations", PEER_X, {THEIRS: [], OURS: []})
    after = _records(conn)
    assert after == {table: [row for row in rows if row[-1] is None]
                     for table, rows in before.items()}


@pytest.mark.parametrize("table", ["contacts", "donations"])
def test_a_peers_records_are_found_by_person_not_by_scanning_its_origin(upgraded, table) -> None:
    """sync_received_records looks up a batch's people by (origin, person IN ...): that must
    go through the person index, not through every record of the origin."""
    conn, _ = upgraded
    plan = " ".join(str(row[3]) for row in conn.execute(
        f"EXPLAIN QUERY PLAN SELECT * FROM {table} WHERE origin = ? AND person IN (?, ?)",
        (PEER_X, OURS, THEIRS)))
    assert f"INDEX {table}_person" in plan, plan
