"""Opening a node's SQLite file and running short write transactions.

WAL mode lets the CLI and a running server share the file. A generous
busy_timeout makes a second writer wait instead of failing with "database is
locked"; writes take the lock up front (BEGIN IMMEDIATE) so a reader that
later wants to write cannot deadlock.
"""

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tagshare.node import wakeup
from tagshare.node.storage import schema, search

BUSY_TIMEOUT_MS = 30_000


def connect(path: Path, *, create: bool = False) -> sqlite3.Connection:
    """Open (and, with create, make) the database, migrated to the latest schema."""
    if not create and not path.exists():
        raise FileNotFoundError(path)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    try:
        schema.check_not_newer(conn, path)
    except BaseException:
        conn.close()
        raise
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA wal_autocheckpoint = 4000")
    # 32 MB of page cache (the default is 2 MB): index pages of a large node stay hot,
    # so applying a batch costs the same on a million-person node as on a small one.
    conn.execute("PRAGMA cache_size = -32768")
    schema.migrate(conn, path)
    if create:
        path.chmod(0o600)
    return conn


def file_of(conn: sqlite3.Connection) -> str:
    """The file of a connection's main database, for a second connection to it."""
    return str(conn.execute("PRAGMA database_list").fetchone()[2])


class CommitWatch:
    """Learns cheaply that another connection (the CLI, another process) committed.

    `PRAGMA data_version` on a private read-only connection to the same file: it
    changes whenever any other connection commits, and asking costs microseconds,
    so the sync worker can ask on its event loop instead of sending a task to the
    database thread each time.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = sqlite3.connect(f"file:{file_of(conn)}?mode=ro", uri=True,
                                     check_same_thread=False)

    def version(self) -> int:
        """A number that differs after another connection's commit (-1 if unreadable)."""
        try:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return -1

    def close(self) -> None:
        self._conn.close()


class Checkpointer:
    """Copies committed pages from the WAL into the database file, on a connection (and
    a thread) of its own.

    Left to the writer, a checkpoint runs inside the COMMIT that crosses
    `wal_autocheckpoint`, and on a million-person node that was 30% of a receiver's
    time. A PASSIVE checkpoint never blocks the writer or readers and SQLite releases
    the GIL while it runs, so the writer's thread keeps working meanwhile; the writer's
    own autocheckpoint stays as the backstop if this one falls behind.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = sqlite3.connect(file_of(conn), isolation_level=None,
                                     check_same_thread=False)

    def run(self) -> int:
        """One passive checkpoint; how many WAL frames are still not copied."""
        try:
            _, in_log, copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error:
            return 0  # busy or closing: the next run, or the writer, will do it
        return max(int(in_log) - int(copied), 0)

    def purge_wait(self) -> float | None:
        """Seconds until an erasure's search-index purge is due (search.purge_wait)."""
        try:
            return search.purge_wait(self._conn, time.time())
        except sqlite3.Error:
            return None

    def committed(self) -> int:
        """A number that differs after another connection's commit (see CommitWatch)."""
        try:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return -1

    def close(self) -> None:
        self._conn.close()


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: everything inside commits together, or nothing does.
    If it erased people, their tokens leave the search index before it commits, or
    within search.PURGE_GAP if the index was purged just before (`purge_pending`).
    After a commit that changed something, the node serving this file, in whatever
    process, is woken (node/wakeup.py), so what was written goes out at once."""
    changes = conn.total_changes
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        search.purge_erased(conn, time.time())
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    if conn.total_changes != changes:
        wakeup.poke(file_of(conn))


def release_memory(conn: sqlite3.Connection) -> None:
    """Free the connection's page cache (up to 32 MB, see `connect`) while the node is
    quiet: a node that wrote many people keeps its cache full otherwise, and hundreds of
    quiet nodes on one machine add that up (issue 15). The pages come back from the
    operating system's file cache on the next use."""
    conn.execute("PRAGMA shrink_memory")


def purge_pending(conn: sqlite3.Connection) -> bool:
    """Purge the search index now if an erasure still waits for it (search.py); whoever
    closes the node or serves it calls this. Returns whether it purged."""
    if search.purge_wait(conn, time.time()) is None:
        return False
    with transaction(conn):
        return search.purge_erased(conn, time.time(), force=True)


def compact_pending(conn: sqlite3.Connection) -> bool:
    """Compact the search index now if bulk writes since the last optimize call for it
    (search.py); whoever closes the node or serves it calls this. Whether it did."""
    if not search.compact_due(conn):
        return False
    with transaction(conn):
        return search.compact(conn, time.time())


@contextmanager
def busy_timeout(conn: sqlite3.Connection, milliseconds: int) -> Iterator[None]:
    """Wait at most `milliseconds` for another writer's lock inside this block."""
    conn.execute(f"PRAGMA busy_timeout = {int(milliseconds)}")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


@contextmanager
def unchecked_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A transaction as above, with foreign keys not enforced inside it.

    Only for a writer whose every reference is to a row it has just written or
    read in the same transaction (a bulk import): each check is an index lookup,
    and for 2,000,000 taggings they cost seconds. The setting can change only
    outside a transaction, so it is turned off before BEGIN and back after.
    """
    enforced = bool(conn.execute("PRAGMA foreign_keys").fetchone()[0])
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        with transaction(conn):
            yield conn
    finally:
        if enforced:
            conn.execute("PRAGMA foreign_keys = ON")


def drop_indexes(conn: sqlite3.Connection, tables: Iterable[str]) -> list[str]:
    """Drop the secondary indexes of `tables` (not the primary keys, never an outbox
    trigger) and the full-text index's insert trigger, inside the caller's transaction;
    returns the statements that recreate them and rebuild the full-text index.

    For a bulk load: building an index once over sorted keys is far cheaper than
    inserting a million keys into it in random order. Rolling the transaction
    back brings the indexes back too.
    """
    names = list(tables)
    marks = ", ".join("?" * len(names))
    rows = conn.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({marks}) ORDER BY name", names,
    ).fetchall()
    for name, _ in rows:
        conn.execute(f'DROP INDEX "{name}"')
    return [str(sql) for _, sql in rows] + search.suspend_indexing(conn, names)


def create_indexes(conn: sqlite3.Connection, statements: Iterable[str]) -> None:
    """Recreate indexes dropped by drop_indexes."""
    for sql in statements:
        conn.execute(sql)


def select_in_chunks(conn: sqlite3.Connection, sql: str, values: Sequence[str],
                     before: Sequence[object] = ()) -> list[sqlite3.Row]:
    """Run `sql` (with `{marks}` for an IN list) over `values`, 500 at a time."""
    rows: list[sqlite3.Row] = []
    for start in range(0, len(values), 500):
        chunk = values[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        rows.extend(conn.execute(sql.format(marks=marks), [*before, *chunk]))
    return rows

