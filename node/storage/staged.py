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
from collections.abc import Sequence

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
                members: Sequence[tuple[str, int, str]]) -> None:
    """(origin uuid, version, local person) of people the share now carries: tag each
    person and record them as members, in two statements."""
    _stage(conn)
    if not members:
        return
    conn.executemany("INSERT INTO temp.staged_members VALUES (?, ?, ?)", members)
    conn.execute("INSERT INTO taggings (tag, person) SELECT ?, person "
                 "FROM temp.staged_members WHERE true ON CONFLICT DO NOTHING", (tag_id,))
    conn.execute("INSERT OR REPLACE INTO received (share, origin_uuid, version, person, state) "
                 "SELECT ?, origin_uuid, version, person, 'member' FROM temp.staged_members",
                 (share_id,))
    conn.execute("DELETE FROM temp.staged_members")
