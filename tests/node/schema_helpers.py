"""Databases at an older schema version, built by the real migrations up to it.

Setting `user_version` back on a current database is not an older database: a
migration that adds a column would then fail on the column it finds there.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from tagshare.node.storage import schema


def database_at(path: Path, version: int) -> None:
    """Create `path` holding exactly migrations 1..version."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        for migration in schema.MIGRATIONS[:version]:
            schema._apply(conn, migration)
        conn.execute(f"PRAGMA user_version = {version}")


def downgrade(path: Path, version: int) -> None:
    """Replace a node's database by one at `version` that keeps its metadata and audit."""
    older = path.with_name(path.name + ".older")
    database_at(older, version)
    with closing(sqlite3.connect(path)) as current, closing(sqlite3.connect(older)) as conn:
        for table in ("meta", "audit"):
            rows = current.execute(f"SELECT * FROM {table}").fetchall()
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        conn.commit()
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    older.replace(path)
