"""`GET /health`: can the node read and write its database right now?

A real check, as a load balancer or systemd watchdog needs: one short write
transaction on the node's own connection (run on the database thread by the
caller), waiting at most HEALTH_WAIT_MS for a lock another writer holds.
The answer names no person and needs no login.
"""

import sqlite3

from tagshare.node.normalize import now_iso
from tagshare.node.storage import db, meta

HEALTH_WAIT_MS = 2_000  # a probe must answer; a writer holding the lock longer is a fault
HEALTH_KEY = "health_checked_at"


def database_problem(conn: sqlite3.Connection) -> str | None:
    """None when a write transaction commits; otherwise why it did not."""
    try:
        with db.busy_timeout(conn, HEALTH_WAIT_MS), db.transaction(conn):
            meta.get_meta(conn, "node_id")
            meta.set_meta(conn, HEALTH_KEY, now_iso())
    except sqlite3.Error as exc:
        return f"database cannot be written: {exc}"
    return None


def health_answer(problem: str | None) -> tuple[int, dict[str, str]]:
    """The status and JSON of GET /health."""
    if problem is None:
        return 200, {"status": "ok", "database": "ok"}
    return 503, {"status": "unavailable", "reason": problem}
