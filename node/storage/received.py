"""SQL for the subscriber's side: what it received, per share and person, and the
copies, links and records that came with it."""

import json
import sqlite3
from collections.abc import Sequence

from tagshare.node.storage.db import select_in_chunks


def received_rows(conn: sqlite3.Connection, share_id: str,
                  origin_uuids: Sequence[str]) -> dict[str, sqlite3.Row]:
    rows = select_in_chunks(
        conn, "SELECT * FROM received WHERE share = ? AND origin_uuid IN ({marks})",
        origin_uuids, (share_id,))
    return {row["origin_uuid"]: row for row in rows}


def set_received(conn: sqlite3.Connection, share_id: str, origin_uuid: str, *, version: int,
                 person: str | None, state: str) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO received (share, origin_uuid, version, person, state) "
        "VALUES (?, ?, ?, ?, ?)",
        (share_id, origin_uuid, version, person, state),
    )


def members_of(conn: sqlite3.Connection, share_id: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM received WHERE share = ? AND state = 'member'", (share_id,)
    ).fetchall()


def memberships(conn: sqlite3.Connection, person: str) -> int:
    return int(conn.execute(
        "SELECT count(*) FROM received WHERE person = ? AND state = 'member'", (person,)
    ).fetchone()[0])


def received_person(conn: sqlite3.Connection, origin: str, origin_uuid: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM people WHERE origin = ? AND origin_uuid = ?", (origin, origin_uuid)
    ).fetchone()
    return row


def drop_received_records(conn: sqlite3.Connection, person: str, origin: str) -> None:
    """What `origin` sent on a person: its own records, and those it relayed."""
    for table in ("contacts", "donations"):
        conn.execute(f"DELETE FROM {table} WHERE person = ? AND "
                     "((origin = ? AND via IS NULL) OR via = ?)", (person, origin, origin))


def has_own_records(conn: sqlite3.Connection, person: str) -> bool:
    """Does the subscriber hold its own tags, contacts or donations on this received person?"""
    return conn.execute(
        "SELECT 1 FROM contacts WHERE person = ? AND origin IS NULL UNION ALL "
        "SELECT 1 FROM donations WHERE person = ? AND origin IS NULL UNION ALL "
        "SELECT 1 FROM taggings WHERE person = ? LIMIT 1",
        (person, person, person),
    ).fetchone() is not None


def set_link(conn: sqlite3.Connection, person: str, local: str | None) -> None:
    conn.execute("UPDATE people SET link = ? WHERE uuid = ?", (local, person))


def linked_copies(conn: sqlite3.Connection, local: str) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM people WHERE link = ? ORDER BY uuid", (local,)).fetchall()


def any_tombstones(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM tombstones LIMIT 1").fetchone() is not None


def tombstoned(conn: sqlite3.Connection, keys: Sequence[str]) -> set[str]:
    return {row[0] for row in select_in_chunks(
        conn, "SELECT key FROM tombstones WHERE key IN ({marks})",
        keys)}


def received_people(conn: sqlite3.Connection, origin: str,
                    origin_uuids: Sequence[str]) -> dict[str, sqlite3.Row]:
    """The subscriber's copies of these people from `origin`, by origin uuid."""
    rows = select_in_chunks(
        conn, "SELECT * FROM people WHERE origin = ? AND origin_uuid IN ({marks})",
        origin_uuids, (origin,))
    return {row["origin_uuid"]: row for row in rows}


def set_received_many(conn: sqlite3.Connection, share_id: str,
                      rows: Sequence[tuple[str, int, str | None, str]]) -> None:
    """(origin uuid, version, person, state) for many people of one share."""
    conn.executemany(
        "INSERT OR REPLACE INTO received (share, origin_uuid, version, person, state) "
        "VALUES (?, ?, ?, ?, ?)",
        [(share_id, *row) for row in rows],
    )


_RECORD_COLUMNS = {
    "contacts": ("uuid", "person", "method", "outcome", "note", "at", "by", "origin"),
    "donations": ("uuid", "person", "amount_cents", "currency", "at", "origin"),
}


def sync_received_records(conn: sqlite3.Connection, table: str, origin: str,
                          records_by_person: dict[str, list[dict[str, object]]]) -> None:
    """Make the origin's contacts (or donations) on each person exactly the lists given:
    insert new records, update changed ones, delete ones the origin no longer has.

    A received record is keyed by (origin, uuid): whatever uuid the origin names, it
    can only ever write, move or delete its own records, never this node's (origin
    NULL) nor another peer's.
    """
    if not origin:
        raise ValueError("received records need their origin")
    columns = _RECORD_COLUMNS[table]
    existing = {row["uuid"]: row for row in select_in_chunks(
        conn, f"SELECT * FROM {table} WHERE origin = ? AND via IS NULL "
        "AND person IN ({marks})", list(records_by_person), (origin,))}
    wanted: dict[str, tuple[object, ...]] = {}
    for person, records in records_by_person.items():
        for record in records:
            full = {**record, "person": person, "origin": origin}
            wanted[str(record["uuid"])] = tuple(full[c] for c in columns)
    gone = [uuid for uuid in existing if uuid not in wanted]
    changed = [values for uuid, values in wanted.items()
               if uuid not in existing or tuple(existing[uuid][c] for c in columns) != values]
    if gone:
        conn.executemany(f"DELETE FROM {table} WHERE origin = ? AND uuid = ? AND via IS NULL",
                         [(origin, uuid) for uuid in gone])
    if changed:
        marks = ", ".join("?" * len(columns))
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in ("uuid", "origin"))
        conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) "
                         "ON CONFLICT (origin, uuid) WHERE origin IS NOT NULL "
                         f"DO UPDATE SET {updates}, via = NULL", changed)  # its author wins


def remember_unseen(conn: sqlite3.Connection, share_id: str,
                    rows: Sequence[tuple[str, int, str]], at: int) -> None:
    """(origin uuid, version, state) of withdraws and erases for people the share never
    brought here: remembered only so that an older upsert of them stays out."""
    conn.executemany(
        "INSERT OR REPLACE INTO received (share, origin_uuid, version, person, state, unseen_at) "
        "VALUES (?, ?, ?, NULL, ?, ?)",
        [(share_id, uuid, version, state, at) for uuid, version, state in rows])


def unseen_count(conn: sqlite3.Connection, share_id: str) -> int:
    return int(conn.execute(
        "SELECT count(*) FROM received WHERE share = ? AND unseen_at IS NOT NULL",
        (share_id,)).fetchone()[0])


def forget_unseen(conn: sqlite3.Connection, share_id: str, before: int) -> None:
    conn.execute("DELETE FROM received WHERE share = ? AND unseen_at IS NOT NULL "
                 "AND unseen_at < ?", (share_id, before))


def set_links(conn: sqlite3.Connection, links: Sequence[tuple[str | None, str]]) -> None:
    """(local person or None, received person) pairs."""
    conn.executemany("UPDATE people SET link = ? WHERE uuid = ?", links)


def clear_columns(conn: sqlite3.Connection, people: Sequence[str], columns: Sequence[str],
                  now: str) -> None:
    """Blank person columns a narrowed share no longer grants."""
    if not columns or not people:
        return
    sets = ", ".join(f"{column} = NULL" for column in columns)
    conn.executemany(
        f"UPDATE people SET {sets}, updated_at = ?, version = version + 1 WHERE uuid = ?",
        [(now, person) for person in people])


def drop_records_of(conn: sqlite3.Connection, table: str, people: Sequence[str],
                    origin: str) -> None:
    if table not in ("contacts", "donations"):
        raise ValueError(table)
    conn.executemany(f"DELETE FROM {table} WHERE person = ? AND origin = ?",
                     [(person, origin) for person in people])


def local_person_exists(conn: sqlite3.Connection, uuid: str) -> bool:
    return conn.execute("SELECT 1 FROM people WHERE uuid = ? AND origin IS NULL",
                        (uuid,)).fetchone() is not None


def mark_epoch(conn: sqlite3.Connection, share_id: str, origin_uuids: Sequence[str],
               epoch: str) -> None:
    conn.execute("UPDATE received SET epoch = ? WHERE share = ? AND origin_uuid IN "
                 "(SELECT value FROM json_each(?))",
                 (epoch, share_id, json.dumps(list(origin_uuids))))


def members_not_in_epoch(conn: sqlite3.Connection, share_id: str,
                         epoch: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM received WHERE share = ? AND state = 'member' "
        "AND (epoch IS NULL OR epoch != ?)", (share_id, epoch)).fetchall()

