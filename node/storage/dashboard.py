"""SQL for the dashboard's one-time login links and its browser sessions.

Only SHA-256 hashes of the secrets are stored: a copy of the database opens no
dashboard. Times are unix seconds.
"""

import sqlite3


def add_login(conn: sqlite3.Connection, token_hash: str, expires: int) -> None:
    conn.execute("INSERT INTO dashboard_logins (token_hash, expires) VALUES (?, ?)",
                 (token_hash, expires))


def consume_login(conn: sqlite3.Connection, token_hash: str, now: int) -> bool:
    """Use a login link: True once, for an unexpired link; the row is gone either way."""
    row = conn.execute("DELETE FROM dashboard_logins WHERE token_hash = ? RETURNING expires",
                       (token_hash,)).fetchone()
    return row is not None and int(row[0]) > now


def add_session(conn: sqlite3.Connection, id_hash: str, csrf: str, created: int,
                expires: int) -> None:
    conn.execute(
        "INSERT INTO dashboard_sessions (id_hash, csrf, created, expires) VALUES (?, ?, ?, ?)",
        (id_hash, csrf, created, expires))


def live_session(conn: sqlite3.Connection, id_hash: str, now: int) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM dashboard_sessions WHERE id_hash = ? AND expires > ?",
        (id_hash, now)).fetchone()
    return row


def end_session(conn: sqlite3.Connection, id_hash: str) -> None:
    conn.execute("DELETE FROM dashboard_sessions WHERE id_hash = ?", (id_hash,))


def forget_expired(conn: sqlite3.Connection, now: int) -> None:
    conn.execute("DELETE FROM dashboard_logins WHERE expires <= ?", (now,))
    conn.execute("DELETE FROM dashboard_sessions WHERE expires <= ?", (now,))
