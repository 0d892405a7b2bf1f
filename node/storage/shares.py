"""SQL for shares in both directions and the versions of their terms."""

import sqlite3


def insert_share(conn: sqlite3.Connection, row: dict[str, object]) -> None:
    conn.execute(
        "INSERT INTO shares (id, direction, peer, tag, tag_id, local_tag, fields, on_revoke, "
        "note, status, epoch, created_at, updated_at) VALUES (:id, :direction, :peer, :tag, "
        ":tag_id, :local_tag, :fields, :on_revoke, :note, :status, :epoch, :now, :now)",
        row,
    )


def get_share(conn: sqlite3.Connection, share_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM shares WHERE id = ?", (share_id,)
    ).fetchone()
    return row


def find_shares(conn: sqlite3.Connection, part: str) -> list[sqlite3.Row]:
    """Shares whose id starts or ends with `part` (`status` shows the end: the random part of
    a UUIDv7, where its start is the time it was made)."""
    escaped = part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return conn.execute(
        "SELECT * FROM shares WHERE id LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\' ORDER BY id",
        (escaped + "%", "%" + escaped),
    ).fetchall()


def list_shares(conn: sqlite3.Connection, direction: str | None = None) -> list[sqlite3.Row]:
    if direction is None:
        return conn.execute("SELECT * FROM shares ORDER BY created_at, id").fetchall()
    return conn.execute(
        "SELECT * FROM shares WHERE direction = ? ORDER BY created_at, id", (direction,)
    ).fetchall()


def set_share_status(conn: sqlite3.Connection, share_id: str, status: str, now: str) -> None:
    conn.execute("UPDATE shares SET status = ?, updated_at = ? WHERE id = ?",
                 (status, now, share_id))


def update_share(conn: sqlite3.Connection, share_id: str, now: str, **values: object) -> None:
    allowed = {"local_tag", "pull", "epoch", "seq", "last_delivery_at", "last_error", "status",
               "resync_at"}
    if set(values) - allowed:
        raise ValueError(sorted(set(values) - allowed))
    sets = ", ".join(f"{key} = :{key}" for key in values)
    conn.execute(f"UPDATE shares SET {sets}, updated_at = :now WHERE id = :id",
                 {**values, "now": now, "id": share_id})


def next_seq(conn: sqlite3.Connection, share_id: str) -> int:
    conn.execute("UPDATE shares SET seq = seq + 1 WHERE id = ?", (share_id,))
    return int(conn.execute("SELECT seq FROM shares WHERE id = ?", (share_id,)).fetchone()[0])


def note_delivered(conn: sqlite3.Connection, share_id: str, at: str) -> None:
    conn.execute("UPDATE shares SET last_delivery_at = ?, last_error = NULL WHERE id = ?",
                 (at, share_id))


def note_error(conn: sqlite3.Connection, share_id: str, error: str) -> None:
    conn.execute("UPDATE shares SET last_error = ? WHERE id = ?", (error, share_id))


def active_outgoing(conn: sqlite3.Connection, peer: str | None = None) -> list[sqlite3.Row]:
    sql = "SELECT * FROM shares WHERE direction = 'outgoing' AND status = 'active'"
    params: tuple[object, ...] = ()
    if peer is not None:
        sql += " AND peer = ?"
        params = (peer,)
    return conn.execute(sql + " ORDER BY id", params).fetchall()


def active_incoming(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM shares WHERE direction = 'incoming' AND status = 'active' ORDER BY id"
    ).fetchall()


def record_terms(conn: sqlite3.Connection, share_id: str, version: int, fields: str,
                 on_revoke: str, *, now: str, accepted: bool) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO share_terms (share, version, fields, on_revoke, proposed_at, "
        "accepted_at) VALUES (?, ?, ?, ?, ?, ?)",
        (share_id, version, fields, on_revoke, now, now if accepted else None),
    )


def mark_terms_accepted(conn: sqlite3.Connection, share_id: str, version: int, now: str) -> None:
    conn.execute("UPDATE share_terms SET accepted_at = ? WHERE share = ? AND version = ?",
                 (now, share_id, version))


def terms_history(conn: sqlite3.Connection, share_id: str) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM share_terms WHERE share = ? ORDER BY version",
                        (share_id,)).fetchall()


def terms_fields(conn: sqlite3.Connection, share_id: str, version: int) -> str | None:
    row = conn.execute("SELECT fields FROM share_terms WHERE share = ? AND version = ?",
                       (share_id, version)).fetchone()
    return None if row is None else str(row[0])


def set_terms(conn: sqlite3.Connection, share_id: str, *, version: int, fields: str,
              on_revoke: str, now: str) -> None:
    conn.execute(
        "UPDATE shares SET terms_version = ?, fields = ?, on_revoke = ?, proposed = NULL, "
        "updated_at = ? WHERE id = ?",
        (version, fields, on_revoke, now, share_id),
    )


def propose_terms(conn: sqlite3.Connection, share_id: str, proposed: str, now: str) -> None:
    conn.execute("UPDATE shares SET proposed = ?, updated_at = ? WHERE id = ?",
                 (proposed, now, share_id))


def other_grants(conn: sqlite3.Connection, peer: str, share_id: str) -> list[str]:
    """Field lists (JSON) of the other active shares this peer grants us."""
    return [row[0] for row in conn.execute(
        "SELECT fields FROM shares WHERE direction = 'incoming' AND status = 'active' "
        "AND peer = ? AND id != ?", (peer, share_id))]



def local_tag_claim(conn: sqlite3.Connection, tag_name: str) -> str | None:
    """Why a subscription may not take `tag_name` as its local tag, or None: another
    live subscription writes it, or people carry it already."""
    if conn.execute("SELECT 1 FROM shares WHERE direction = 'incoming' AND local_tag = ? "
                    "AND status IN ('offered', 'active')", (tag_name,)).fetchone():
        return "another share from a peer writes it"
    if conn.execute("SELECT 1 FROM taggings g JOIN tags t ON t.id = g.tag WHERE t.name = ? "
                    "LIMIT 1", (tag_name,)).fetchone():
        return "people carry it already"
    return None


def tag_exists(conn: sqlite3.Connection, tag_name: str) -> bool:
    return conn.execute("SELECT 1 FROM tags WHERE name = ?", (tag_name,)).fetchone() is not None


def offers_waiting(conn: sqlite3.Connection, peer: str) -> int:
    """Offers from `peer` that wait for this node's operator."""
    return int(conn.execute("SELECT count(*) FROM shares WHERE direction = 'incoming' "
                            "AND status = 'offered' AND peer = ?", (peer,)).fetchone()[0])
