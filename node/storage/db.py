"""Opening a node's SQLite file and running short write transactions.

WAL mode lets the CLI and a running server share the file. A generous
busy_timeout makes a second writer wait instead of failing with "database is
locked"; writes take the lock up front (BEGIN IMMEDIATE) so a reader that
later wants to write cannot deadlock.
"""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from node.storage import schema

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
    schema.migrate(conn, path)
    if create:
        path.chmod(0o600)
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: everything inside commits together, or nothing does."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
