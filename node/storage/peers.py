"""SQL for peers, invites, pairing rate limits and the inbox replay guard."""

import sqlite3


def upsert_peer(conn: sqlite3.Connection, row: dict[str, object]) -> None:
    """Store a peer (pairing again with a removed or known peer refreshes it).

    `name` is the name the peer announced when it was first stored, and stays:
    what it announces later is kept apart, in `announced`, and never renames it.
    """
    row = {"signing_key": row["node_id"], "announced": row["name"], **row}
    conn.execute(
        "INSERT INTO peers (node_id, name, alias, url, box_key, document, status, auto_accept, "
        "added_at, signing_key, announced) VALUES (:node_id, :name, :alias, :url, :box_key, "
        ":document, 'active', :auto_accept, :added_at, :signing_key, :announced) "
        "ON CONFLICT(node_id) DO UPDATE SET announced = excluded.announced, "
        "alias = excluded.alias, "
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
    """Is another active peer known by this name (its alias, or its name if it has none)?"""
    return conn.execute(
        "SELECT 1 FROM peers WHERE coalesce(alias, name) = ? AND status = 'active' "
        "AND node_id != ?",
        (alias, node_id),
    ).fetchone() is not None


def set_alias(conn: sqlite3.Connection, node_id: str, alias: str) -> None:
    conn.execute("UPDATE peers SET alias = ? WHERE node_id = ?", (alias, node_id))


def mark_peer_removed(conn: sqlite3.Connection, node_id: str, at: str) -> None:
    conn.execute(
        "UPDATE peers SET status = 'removed', removed_at = ? WHERE node_id = ?", (at, node_id)
    )


def set_auto_accept(conn: sqlite3.Connection, node_id: str, value: bool) -> None:
    conn.execute("UPDATE peers SET auto_accept = ? WHERE node_id = ?", (int(value), node_id))


def insert_invite(conn: sqlite3.Connection, *, invite_id: str, secret_hash: str,
                  created_at: str, expires: int, alias: str | None = None) -> None:
    conn.execute(
        "INSERT INTO invites (id, secret_hash, created_at, expires, alias) "
        "VALUES (?, ?, ?, ?, ?)",
        (invite_id, secret_hash, created_at, expires, alias),
    )


# An invite with the number of wrong secrets it was sent.
_INVITES = ("SELECT invites.*, coalesce(invite_failures.failures, 0) AS failures FROM invites "
            "LEFT JOIN invite_failures ON invite_failures.invite_id = invites.id")


def get_invite(conn: sqlite3.Connection, invite_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        _INVITES + " WHERE id = ?", (invite_id,)
    ).fetchone()
    return row


def use_invite(conn: sqlite3.Connection, invite_id: str, *, at: str, by: str) -> bool:
    """Mark an invite used; False if it already was (single use, even under a race)."""
    cursor = conn.execute(
        "UPDATE invites SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL",
        (at, by, invite_id),
    )
    return cursor.rowcount == 1


def list_invites(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute(_INVITES + " ORDER BY created_at, id").fetchall()


def count_invite_failure(conn: sqlite3.Connection, invite_id: str) -> None:
    """One more wrong secret for `invite_id`, if it is one of our invites."""
    conn.execute(
        "INSERT INTO invite_failures (invite_id, failures) SELECT id, 1 FROM invites "
        "WHERE id = ? ON CONFLICT (invite_id) DO UPDATE SET failures = failures + 1",
        (invite_id,),
    )


def record_pairing_failure(conn: sqlite3.Connection, *, at: int, source: str, node_id: str,
                           invite_id: str | None) -> None:
    conn.execute(
        "INSERT INTO pairing_failures (at, source, node_id, invite_id) VALUES (?, ?, ?, ?)",
        (at, source, node_id, invite_id),
    )


def source_failures_since(conn: sqlite3.Connection, source: str, since: int) -> int:
    """Failures from `source` since `since` (older ones, from any source, are dropped)."""
    conn.execute("DELETE FROM pairing_failures WHERE at < ?", (since,))
    return int(conn.execute(
        "SELECT count(*) FROM pairing_failures WHERE source = ? AND at >= ?", (source, since)
    ).fetchone()[0])


def failures_by_source(conn: sqlite3.Connection, since: int) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT source, count(*) AS failures, count(DISTINCT node_id) AS node_keys, "
        "max(at) AS last_at FROM pairing_failures WHERE at >= ? "
        "GROUP BY source ORDER BY failures DESC, source", (since,)
    ).fetchall()


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
                document: str, url: str, announced: str) -> None:
    """New keys, document and URL; the name it announces is kept apart from its name."""
    conn.execute(
        "UPDATE peers SET signing_key = ?, box_key = ?, document = ?, url = ?, announced = ? "
        "WHERE node_id = ?", (signing_key, box_key, document, url, announced, node_id))


def replace_document(conn: sqlite3.Connection, node_id: str, document: str) -> None:
    """A newer signed document of the same keys (a new TLS certificate, say)."""
    conn.execute("UPDATE peers SET document = ? WHERE node_id = ?", (document, node_id))
