"""SQL for peers, invites, pairing rate limits and the inbox replay guard."""

import sqlite3


def upsert_peer(conn: sqlite3.Connection, row: dict[str, object]) -> None:
    """Store a peer (pairing again with a removed or known peer refreshes it)."""
    row = {"signing_key": row["node_id"], **row}
    conn.execute(
        "INSERT INTO peers (node_id, name, alias, url, box_key, document, status, auto_accept, "
        "added_at, signing_key) VALUES (:node_id, :name, :alias, :url, :box_key, :document, "
        "'active', :auto_accept, :added_at, :signing_key) "
        "ON CONFLICT(node_id) DO UPDATE SET name = excluded.name, alias = excluded.alias, "
        "url = excluded.url, box_key = excluded.box_key, document = excluded.document, "
        "signing_key = excluded.signing_key, "
        "status = 'active', auto_accept = excluded.auto_accept, added_at = excluded.added_at, "
        "removed_at = NULL",
        row,
    )


def get_peer(conn: sqlite3.Connection, node_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM peers WHERE node_id = ?", (node_id,)
    ).fetchone()
    return row


def active_peer(conn: sqlite3.Connection, node_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM peers WHERE node_id = ? AND status = 'active'", (node_id,)
    ).fetchone()
    return row


def list_peers(conn: sqlite3.Connection, *, include_removed: bool = False) -> list[sqlite3.Row]:
    sql = "SELECT * FROM peers"
    if not include_removed:
        sql += " WHERE status = 'active'"
    return conn.execute(sql + " ORDER BY coalesce(alias, name)").fetchall()


def alias_taken(conn: sqlite3.Connection, alias: str, node_id: str) -> bool:
    return conn.execute(
        "SELECT 1 FROM peers WHERE alias = ? AND status = 'active' AND node_id != ?",
        (alias, node_id),
    ).fetchone() is not None


def mark_peer_removed(conn: sqlite3.Connection, node_id: str, at: str) -> None:
    conn.execute(
        "UPDATE peers SET status = 'removed', removed_at = ? WHERE node_id = ?", (at, node_id)
    )


def set_auto_accept(conn: sqlite3.Connection, node_id: str, value: bool) -> None:
    conn.execute("UPDATE peers SET auto_accept = ? WHERE node_id = ?", (int(value), node_id))


def insert_invite(conn: sqlite3.Connection, *, invite_id: str, secret_hash: str,
                  created_at: str, expires: int) -> None:
    conn.execute(
        "INSERT INTO invites (id, secret_hash, created_at, expires) VALUES (?, ?, ?, ?)",
        (invite_id, secret_hash, created_at, expires),
    )


def get_invite(conn: sqlite3.Connection, invite_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM invites WHERE id = ?", (invite_id,)
    ).fetchone()
    return row


def use_invite(conn: sqlite3.Connection, invite_id: str, *, at: str, by: str) -> bool:
    """Mark an invite used; False if it already was (single use, even under a race)."""
    cursor = conn.execute(
        "UPDATE invites SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL",
        (at, by, invite_id),
    )
    return cursor.rowcount == 1


def record_pairing_failure(conn: sqlite3.Connection, at: int) -> None:
    conn.execute("INSERT INTO pairing_failures (at) VALUES (?)", (at,))


def pairing_failures_since(conn: sqlite3.Connection, since: int) -> int:
    conn.execute("DELETE FROM pairing_failures WHERE at < ?", (since,))
    return int(conn.execute(
        "SELECT count(*) FROM pairing_failures WHERE at >= ?", (since,)
    ).fetchone()[0])


def seen_message(conn: sqlite3.Connection, sender: str, message_id: str) -> bool:
    return conn.execute(
        "SELECT 1 FROM inbox_seen WHERE sender = ? AND message_id = ?", (sender, message_id)
    ).fetchone() is not None


def remember_message(conn: sqlite3.Connection, sender: str, message_id: str, at: int) -> bool:
    """Record a message id; False if it was already there (a replay)."""
    cursor = conn.execute(
        "INSERT OR IGNORE INTO inbox_seen (sender, message_id, received_at) VALUES (?, ?, ?)",
        (sender, message_id, at),
    )
    return cursor.rowcount == 1


def forget_messages_before(conn: sqlite3.Connection, before: int) -> None:
    """Message ids older than the clock window can go: such envelopes are refused as stale."""
    conn.execute("DELETE FROM inbox_seen WHERE received_at < ?", (before,))


def rotated_signing_keys(conn: sqlite3.Connection) -> dict[str, str]:
    """Peers whose signing key is no longer their node id."""
    return {row[0]: row[1] for row in conn.execute(
        "SELECT node_id, signing_key FROM peers WHERE status = 'active' "
        "AND signing_key IS NOT NULL AND signing_key != node_id")}


def rotate_peer(conn: sqlite3.Connection, node_id: str, *, signing_key: str, box_key: str,
                document: str, url: str, name: str) -> None:
    conn.execute(
        "UPDATE peers SET signing_key = ?, box_key = ?, document = ?, url = ?, name = ? "
        "WHERE node_id = ?", (signing_key, box_key, document, url, name, node_id))


def replace_document(conn: sqlite3.Connection, node_id: str, document: str) -> None:
    """A newer signed document of the same keys (a new TLS certificate, say)."""
    conn.execute("UPDATE peers SET document = ? WHERE node_id = ?", (document, node_id))
