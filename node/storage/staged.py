"""SQL for applying a received batch as sets: the batch's people are staged in
temporary tables (one `executemany` each), then a few `INSERT ... SELECT` statements
write the copies, the taggings and the `received` rows for the whole batch.

Statements over the whole batch instead of one per row: SQLite's triggers still run
per row, but the per-row statements (and their Python) are gone: Python binds each
value once, into a table of this connection's temporary database. Nothing here
decides anything: the caller (node/received.py) has already checked versions,
tombstones, grants and links, and passes only rows it may write.
"""

import sqlite3
from collections.abc import Mapping, Sequence

from tagshare.node.storage import search
from tagshare.node.storage.people import PERSON_FIELDS

_NEW_COLUMNS = ("uuid", "origin_uuid", *PERSON_FIELDS, "link")
_SCHEMA = (
    "CREATE TEMP TABLE IF NOT EXISTS staged_people ("
    + ", ".join(f"{column} TEXT" for column in _NEW_COLUMNS) + ")",
    "CREATE TEMP TABLE IF NOT EXISTS staged_members ("
    "origin_uuid TEXT NOT NULL, version INTEGER NOT NULL, person TEXT NOT NULL)",
)


def _stage(conn: sqlite3.Connection) -> None:
    """Empty staging tables on this connection (made on first use: temp tables are
    per connection and vanish with it, so nothing is left in the database file)."""
    for statement in _SCHEMA:
        conn.execute(statement)
    conn.execute("DELETE FROM temp.staged_people")
    conn.execute("DELETE FROM temp.staged_members")


def insert_copies(conn: sqlite3.Connection, origin: str,
                  rows: Sequence[Sequence[object]], now: str) -> None:
    """Insert new copies from `origin`: rows of (uuid, origin uuid, *PERSON_FIELDS, link),
    in one statement."""
    _stage(conn)
    if not rows:
        return
    marks = ", ".join("?" * len(_NEW_COLUMNS))
    conn.executemany(f"INSERT INTO temp.staged_people VALUES ({marks})", rows)
    fields = ", ".join(PERSON_FIELDS)
    conn.execute(
        f"INSERT INTO people (uuid, origin, origin_uuid, {fields}, created_at, updated_at, "
        f"version, link) SELECT uuid, ?, origin_uuid, {fields}, ?, ?, 1, link "
        "FROM temp.staged_people", (origin, now, now))
    conn.execute("DELETE FROM temp.staged_people")
    search.note_added(conn, len(rows))


def add_members(conn: sqlite3.Connection, share_id: str, tag_id: int,
                members: Sequence[tuple[str, int, str]],
                held: Mapping[str, sqlite3.Row]) -> None:
    """(origin uuid, version, local person) of people the share now carries: tag each
    person and record them as members. `held` is the share's `received` rows of these
    people as the caller read them, by origin uuid (rows it lacks are new)."""
    _stage(conn)
    if not members:
        return
    conn.executemany("INSERT INTO temp.staged_members VALUES (?, ?, ?)", members)
    conn.execute("INSERT INTO taggings (tag, person) SELECT ?, person "
                 "FROM temp.staged_members WHERE true ON CONFLICT DO NOTHING", (tag_id,))
    # An upsert, not INSERT OR REPLACE: a replaced row is deleted and inserted again, in
    # `received_person` too, and on a 1,000,000-person node that rewrote a random index
    # page for every person of a live batch. The person is set apart, only where it
    # changed, since naming a column in SET rewrites its index even when the value stays.
    conn.execute("INSERT INTO received (share, origin_uuid, version, person, state) "
                 "SELECT ?, origin_uuid, version, person, 'member' FROM temp.staged_members "
                 "WHERE true ON CONFLICT (share, origin_uuid) DO UPDATE SET "
                 "version = excluded.version, state = 'member', epoch = NULL, "
                 "unseen_at = NULL, origin = NULL", (share_id,))
    moved = [(person, share_id, uuid) for uuid, _, person in members
             if uuid in held and held[uuid]["person"] != person]
    conn.executemany("UPDATE received SET person = ? WHERE share = ? AND origin_uuid = ?",
                     moved)
    conn.execute("DELETE FROM temp.staged_members")
