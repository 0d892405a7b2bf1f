"""Full-text search of people, with sqlite-utils' FTS5 support.

How this works. `people_fts` is an FTS5 index over the search columns of `people`
(external content: the index holds tokens, the rows stay in `people`), made by
sqlite-utils' `enable_fts(..., create_triggers=True)`: its triggers keep the index in
step with every writer, the CLI, the server or another SQLite tool. The update trigger
is narrowed to the search columns, so that version bumps and link changes (every
received person gets one) do not re-index anybody.

Erasing must leave no trace in the index. FTS5 deletes by appending a delete marker;
the erased person's tokens stay in older segments until a merge reaches them (SQLite's
`secure-delete` option, which avoids that, needs 3.42). So a trigger notes in
`people_search_erased` that people were deleted (or blanked), and `purge_erased`,
called by every write transaction before it commits, then runs FTS5's `optimize`: the
segments are merged into one without the erased tokens. It costs time in proportion
to the index (about 45 ms at 50,000 people, 0.3 s at 400,000), so it runs at most once
every PURGE_GAP: an erasure committed sooner after the last purge leaves the flag set
(the person is already gone from every search), and the purge follows within
PURGE_GAP, done by the next write transaction, by the serving node (its checkpoint
loop, node/server.py) or by whoever closes the node (Node.close: every CLI command).
A party erasing a thousand people in a minute pays for about thirty purges, not a
thousand.

A bulk load into an empty node (csvio) drops the insert trigger with the indexes
(`suspend_indexing`) and indexes the people it inserts in large chunks
(`index_people_after`), while its cleaner process parses the next rows: one trigger
call per row costs about 20 us, since FTS5 flushes its pending terms at each
statement; a chunk of 20,000 people costs what a rebuild at the end cost a person.

Compacting after bulk writes. Each write transaction adds a segment to the index, and
FTS5 merges segments a little at every later write. After a bulk load (a share's first
sync in chunks, an import), the index is many large segments, and every small write
after it pays for merging them: on a subscriber that had just received 1,000,000 people,
an edit of 1,000 of them spent 0.2-0.3 s updating the index and up to 0.65 s
committing, against 0.03 s and 0.04 s once the index was one segment (`optimize`: 0.8 s
there, once). So the bulk writers count the people they add (`note_added`); from
COMPACT_AFTER people on, the index is compacted by the serving node once it has been
quiet for a moment (node/server.py), or by whoever closes the node (Node.close), in the
same `optimize` as an erasure's purge.
"""

import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING

from tagshare.node.storage import meta

if TYPE_CHECKING:
    import sqlite_utils

SEARCH_COLUMNS = ("first_name", "last_name", "email", "phone", "city")
_INDEX = "people_fts"
_INSERT_TRIGGER = "people_ai"
_UPDATE_TRIGGER = "people_au"
# FTS5 keeps its segment structure in one record (rowid 10 of the index's _data table).
# Each 'optimize' of an index with more than one segment adds a level to it (2 bytes),
# and SQLite 3.40 calls the index corrupt once that record passes about 4,000 bytes: a
# node that erased about a thousand people, one transaction each, could then write no
# person any more ("database disk image is malformed"). A 'rebuild' starts the structure
# afresh; it costs about 1 s at 50,000 people, so it runs only when the record is big.
_STRUCTURE_ROWID = 10
_STRUCTURE_LIMIT = 1024  # bytes: some 500 levels, a quarter of what breaks it
PURGE_GAP = 2.0  # seconds: at most one purge this often (see the module's docstring)
_PURGED_AT = "search_purged_at"  # meta key: when the index was last purged (unix time)
COMPACT_AFTER = 20_000  # people added in bulk since the last optimize that call for one
_ADDED = "search_added"  # meta key: people added since the last optimize


def _database(conn: sqlite3.Connection) -> "sqlite_utils.Database":
    # Imported here: every command opens the database, few search it (the import takes
    # about 0.1 s). No PRAGMA recursive_triggers (it would make REPLACE fire delete
    # triggers node-wide) and no plugins: the connection stays as db.connect set it.
    import sqlite_utils

    return sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)


def enable_people_search(conn: sqlite3.Connection) -> None:
    """The migration: index every person now and keep the index current. Idempotent."""
    _database(conn).table("people").enable_fts(SEARCH_COLUMNS, create_triggers=True,
                                               replace=True)
    columns = ", ".join(SEARCH_COLUMNS)
    old = ", ".join(f"old.{c}" for c in SEARCH_COLUMNS)
    new = ", ".join(f"new.{c}" for c in SEARCH_COLUMNS)
    blanked = " AND ".join(f"new.{c} IS NULL" for c in SEARCH_COLUMNS)
    for statement in (
        f"DROP TRIGGER IF EXISTS {_UPDATE_TRIGGER}",
        f"""CREATE TRIGGER {_UPDATE_TRIGGER} AFTER UPDATE OF {columns} ON people BEGIN
  INSERT INTO {_INDEX} ({_INDEX}, rowid, {columns}) VALUES('delete', old.rowid, {old});
  INSERT INTO {_INDEX} (rowid, {columns}) VALUES (new.rowid, {new});
END""",
        """CREATE TABLE IF NOT EXISTS people_search_erased (
    id INTEGER PRIMARY KEY CHECK (id = 1)
)""",
        "DROP TRIGGER IF EXISTS people_search_deleted",
        """CREATE TRIGGER people_search_deleted AFTER DELETE ON people BEGIN
  INSERT OR IGNORE INTO people_search_erased (id) VALUES (1);
END""",
        "DROP TRIGGER IF EXISTS people_search_blanked",
        f"""CREATE TRIGGER people_search_blanked AFTER UPDATE OF {columns} ON people
WHEN {blanked} BEGIN
  INSERT OR IGNORE INTO people_search_erased (id) VALUES (1);
END""",
    ):
        conn.execute(statement)


def search_people(conn: sqlite3.Connection, query: str, limit: int) -> list[str]:
    """Uuids of the people matching an FTS5 `query`, best match first."""
    rows = _database(conn).table("people").search(query, columns=["uuid"], limit=limit)
    return [str(row["uuid"]) for row in rows]


def purge_erased(conn: sqlite3.Connection, now: float, *, force: bool = False) -> bool:
    """Inside a write transaction: if people were erased since the last purge, rewrite
    the index without their tokens, unless the last purge was under PURGE_GAP ago and
    not `force`d (then it stays due). Returns whether it purged."""
    wait = purge_wait(conn, now)
    if wait is None or (wait > 0 and not force):
        return False
    _optimize(conn, now)
    return True


def _optimize(conn: sqlite3.Connection, now: float) -> None:
    """Merge the index into one segment, without erased people's tokens: it is purged
    and compacted."""
    conn.execute(f"INSERT INTO {_INDEX} ({_INDEX}) VALUES ('optimize')")
    structure = conn.execute(f"SELECT length(block) FROM {_INDEX}_data WHERE id = ?",
                             (_STRUCTURE_ROWID,)).fetchone()
    if structure is not None and (structure[0] or 0) > _STRUCTURE_LIMIT:
        conn.execute(f"INSERT INTO {_INDEX} ({_INDEX}) VALUES ('rebuild')")
    conn.execute("DELETE FROM people_search_erased")
    meta.set_meta(conn, _PURGED_AT, repr(now))
    meta.set_meta(conn, _ADDED, "0")


def note_added(conn: sqlite3.Connection, count: int) -> None:
    """Inside a write transaction: `count` people were just added to the index."""
    if count > 0:
        meta.set_meta(conn, _ADDED, str(_added(conn) + count))


def compact_due(conn: sqlite3.Connection) -> bool:
    """Whether enough people were added since the last optimize to compact."""
    return _added(conn) >= COMPACT_AFTER


def compact(conn: sqlite3.Connection, now: float) -> bool:
    """Inside a write transaction: compact the index if that is due; whether it did."""
    if not compact_due(conn):
        return False
    _optimize(conn, now)
    return True


def _added(conn: sqlite3.Connection) -> int:
    value = meta.get_meta(conn, _ADDED)
    return int(value) if value else 0


def purge_wait(conn: sqlite3.Connection, now: float) -> float | None:
    """None if no erasure awaits a purge; otherwise the seconds until it is due (0: now).
    A clock that went back counts as due, so nothing waits for long."""
    try:
        if conn.execute("SELECT 1 FROM people_search_erased").fetchone() is None:
            return None
        last = meta.get_meta(conn, _PURGED_AT)
    except sqlite3.OperationalError:  # a database not (yet) migrated: nothing indexed
        return None
    if last is None or float(last) > now:
        return 0.0
    return max(float(last) + PURGE_GAP - now, 0.0)


def suspend_indexing(conn: sqlite3.Connection, tables: Iterable[str]) -> list[str]:
    """For a bulk load into an empty `people`: drop the index's insert trigger (inside
    the caller's transaction); returns the statement that brings it back. Meanwhile
    the loader indexes what it inserts with `index_people_after`, all of it before the
    trigger is back."""
    if "people" not in tables:
        return []
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
                       (_INSERT_TRIGGER,)).fetchone()
    if row is None:
        return []
    conn.execute(f"DROP TRIGGER {_INSERT_TRIGGER}")
    return [str(row[0])]


def index_people_after(conn: sqlite3.Connection, rowid: int) -> int:
    """Index the people whose rowid is above `rowid`, in one statement (a bulk load, with
    the insert trigger suspended); returns the highest rowid now indexed."""
    columns = ", ".join(SEARCH_COLUMNS)
    added = conn.execute(f"INSERT INTO {_INDEX} (rowid, {columns}) "
                         f"SELECT rowid, {columns} FROM people WHERE rowid > ?", (rowid,))
    note_added(conn, added.rowcount)
    last = conn.execute("SELECT max(rowid) FROM people").fetchone()[0]
    return rowid if last is None else int(last)
