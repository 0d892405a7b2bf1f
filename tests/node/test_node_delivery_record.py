"""A delivery that goes through records its success without a commit per delivery: a
party sending every edit to hundreds of peers must not write (and wake its own sync
worker) once more per peer per edit (issue 15). A failing peer is always reset."""

import sqlite3
from pathlib import Path

from tagshare.node.storage import db, outbox


def succeed(conn: sqlite3.Connection, at: str) -> int:
    """Record a success at `at`; how many rows it changed."""
    before = conn.total_changes
    with db.transaction(conn):
        outbox.record_success(conn, "peer-a", at)
    return conn.total_changes - before


def test_a_success_is_rewritten_only_once_it_is_stale_or_the_peer_was_failing(
        tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "node.db", create=True)
    try:
        assert succeed(conn, "2026-12-03T15:40:00.123Z") == 1
        assert succeed(conn, "2026-12-03T15:40:04.000Z") == 0  # still fresh: no write
        assert conn.execute("SELECT last_success_at FROM delivery").fetchone()[0] == \
            "2026-12-03T15:40:00.123Z"
        assert succeed(conn, "2026-12-03T15:40:05.200Z") == 1  # stale: refreshed
        with db.transaction(conn):
            outbox.record_failure(conn, "peer-a", error="503 busy", next_attempt=99.0,
                                  parked=False, at="2026-12-03T15:40:05.300Z")
        assert succeed(conn, "2026-12-03T15:40:05.400Z") == 2  # failing: reset, streak ended
        row = conn.execute("SELECT attempts, next_attempt, last_error, parked FROM delivery"
                           ).fetchone()
        assert tuple(row) == (0, 0, None, 0)
        assert conn.execute("SELECT count(*) FROM delivery_failing").fetchone()[0] == 0
    finally:
        conn.close()
