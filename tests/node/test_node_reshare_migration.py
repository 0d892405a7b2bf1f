"""MIGRATION_18 (re-sharing) from a real database at the previous version."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from schema_helpers import database_at

from tagshare.node.storage import schema

NOW = "2026-01-02T03:04:05Z"


def test_shares_from_before_resharing_read_as_reshare_none(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    before = schema.MIGRATIONS.index(schema.MIGRATION_18)
    database_at(path, before)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("INSERT INTO shares (id, direction, peer, tag, fields, on_revoke, status, "
                     "epoch, created_at, updated_at) VALUES ('s1', 'incoming', 'p', 'v', "
                     "'[\"name\"]', 'purge', 'active', 'e', ?, ?)", (NOW, NOW))
        conn.execute("INSERT INTO received (share, origin_uuid, version, person, state) "
                     "VALUES ('s1', 'u1', 3, 'x', 'member')")
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        schema.migrate(conn, path)
        conn.row_factory = sqlite3.Row
        share = conn.execute("SELECT * FROM shares").fetchone()
        assert (share["reshare"], share["grant_signed"], share["upstream"]) == ("none", None, "[]")
        assert conn.execute("SELECT origin FROM received").fetchone()[0] is None
        assert conn.execute("SELECT count(*) FROM gone_copies").fetchone()[0] == 0
        schema._apply(conn, schema.MIGRATION_18)  # running it again changes nothing
        assert schema.current_version(conn) == schema.LATEST
