"""SQL for OSDI API tokens: stored by name with a hash of the token, never the token."""

import sqlite3


def insert_token(conn: sqlite3.Connection, *, name: str, token_hash: str, scope: str,
                 created_at: str, expires_at: str | None) -> None:
    """A new token; a revoked token of the same name is replaced."""
    conn.execute("DELETE FROM api_tokens WHERE name = ? AND revoked_at IS NOT NULL", (name,))
    conn.execute(
        "INSERT INTO api_tokens (name, token_hash, scope, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?)", (name, token_hash, scope, created_at, expires_at))


def token_named(conn: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM api_tokens WHERE name = ?", (name,)).fetchone()
    return row


def token_by_hash(conn: sqlite3.Connection, token_hash: str, now: str) -> sqlite3.Row | None:
    """The live (not revoked, not expired) token with this hash, if any."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL "
        "AND (expires_at IS NULL OR expires_at > ?)", (token_hash, now)).fetchone()
    return row


def has_live_token(conn: sqlite3.Connection, now: str) -> bool:
    return conn.execute(
        "SELECT 1 FROM api_tokens WHERE revoked_at IS NULL "
        "AND (expires_at IS NULL OR expires_at > ?) LIMIT 1", (now,)).fetchone() is not None


def all_tokens(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT name, scope, created_at, expires_at, revoked_at FROM api_tokens ORDER BY name"
    ).fetchall()


def revoke_token(conn: sqlite3.Connection, name: str, at: str) -> bool:
    cursor = conn.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (at, name))
    return cursor.rowcount > 0
