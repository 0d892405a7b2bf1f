"""SQL for shares (both directions), the pending outbox, control messages,
per-peer delivery state, and what a subscriber received."""

import sqlite3
from collections.abc import Sequence

# --- shares -----------------------------------------------------------------


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


def find_shares(conn: sqlite3.Connection, prefix: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM shares WHERE id LIKE ? ESCAPE '\\' ORDER BY id",
        (prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
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
    allowed = {"local_tag", "pull", "epoch", "seq", "last_delivery_at", "last_error", "status"}
    if set(values) - allowed:
        raise ValueError(sorted(set(values) - allowed))
    sets = ", ".join(f"{key} = :{key}" for key in values)
    conn.execute(f"UPDATE shares SET {sets}, updated_at = :now WHERE id = :id",
                 {**values, "now": now, "id": share_id})


def next_seq(conn: sqlite3.Connection, share_id: str) -> int:
    conn.execute("UPDATE shares SET seq = seq + 1 WHERE id = ?", (share_id,))
    return int(conn.execute("SELECT seq FROM shares WHERE id = ?", (share_id,)).fetchone()[0])


def note_delivery(conn: sqlite3.Connection, share_id: str, *, at: str,
                  error: str | None) -> None:
    if error is None:
        conn.execute("UPDATE shares SET last_delivery_at = ?, last_error = NULL WHERE id = ?",
                     (at, share_id))
    else:
        conn.execute("UPDATE shares SET last_error = ? WHERE id = ?", (error, share_id))


# --- pending: the per-(share, person) outbox ----------------------------------


def enqueue_tagged(conn: sqlite3.Connection, share_id: str, tag_id: int) -> int:
    """Owe the subscriber everyone who carries the tag now (initial sync, resync)."""
    conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'change'")
    cursor = conn.execute(
        "INSERT OR REPLACE INTO pending (share, person, version, inflight) "
        "SELECT ?, person, (SELECT value FROM counters WHERE name = 'change'), NULL "
        "FROM taggings WHERE tag = ?",
        (share_id, tag_id),
    )
    return cursor.rowcount


def take_pending(conn: sqlite3.Connection, share_id: str, seq: int,
                 limit: int) -> list[sqlite3.Row]:
    """Mark up to `limit` ready rows as carried by batch `seq` and return them."""
    return conn.execute(
        "UPDATE pending SET inflight = ? WHERE share = ? AND person IN "
        "(SELECT person FROM pending WHERE share = ? AND inflight IS NULL LIMIT ?) "
        "RETURNING person, version",
        (seq, share_id, share_id, limit),
    ).fetchall()


def settle_pending(conn: sqlite3.Connection, share_id: str, seq: int) -> int:
    """The subscriber acknowledged batch `seq`: drop what it carried (unless changed since)."""
    cursor = conn.execute("DELETE FROM pending WHERE share = ? AND inflight = ?",
                          (share_id, seq))
    return cursor.rowcount


PARKED = -1  # `inflight` of a pending row whose data cannot be sent until it is edited


def release_inflight(conn: sqlite3.Connection, share_id: str | None = None) -> None:
    """Delivery failed (or the worker restarted): make in-flight rows ready again."""
    if share_id is None:
        conn.execute("UPDATE pending SET inflight = NULL WHERE inflight > 0")
    else:
        conn.execute("UPDATE pending SET inflight = NULL WHERE share = ? AND inflight > 0",
                     (share_id,))


def park_pending(conn: sqlite3.Connection, share_id: str, people: Sequence[str]) -> None:
    conn.executemany("UPDATE pending SET inflight = ? WHERE share = ? AND person = ?",
                     [(PARKED, share_id, person) for person in people])


def drop_pending(conn: sqlite3.Connection, share_id: str) -> None:
    conn.execute("DELETE FROM pending WHERE share = ?", (share_id,))


def pending_count(conn: sqlite3.Connection, share_id: str) -> int:
    return int(conn.execute("SELECT count(*) FROM pending WHERE share = ?",
                            (share_id,)).fetchone()[0])


def has_ready(conn: sqlite3.Connection, share_id: str) -> bool:
    return conn.execute(
        "SELECT 1 FROM pending WHERE share = ? AND inflight IS NULL LIMIT 1", (share_id,)
    ).fetchone() is not None


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


# --- reading what a batch carries --------------------------------------------


def _in_chunks(conn: sqlite3.Connection, sql: str, values: Sequence[str],
               before: Sequence[object] = ()) -> list[sqlite3.Row]:
    rows: list[sqlite3.Row] = []
    for start in range(0, len(values), 500):
        chunk = values[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        rows.extend(conn.execute(sql.format(marks=marks), [*before, *chunk]))
    return rows


def people_by_uuid(conn: sqlite3.Connection, uuids: Sequence[str]) -> dict[str, sqlite3.Row]:
    rows = _in_chunks(conn, "SELECT * FROM people WHERE uuid IN ({marks})", uuids)
    return {row["uuid"]: row for row in rows}


def tagged_among(conn: sqlite3.Connection, tag_id: int, uuids: Sequence[str]) -> set[str]:
    rows = _in_chunks(conn, "SELECT person FROM taggings WHERE tag = ? AND person IN ({marks})",
                      uuids, (tag_id,))
    return {row[0] for row in rows}


def own_contacts_of(conn: sqlite3.Connection, uuids: Sequence[str]) -> list[sqlite3.Row]:
    return _in_chunks(
        conn, "SELECT * FROM contacts WHERE origin IS NULL AND person IN ({marks}) "
        "ORDER BY person, at, uuid", uuids)


def own_donations_of(conn: sqlite3.Connection, uuids: Sequence[str]) -> list[sqlite3.Row]:
    return _in_chunks(
        conn, "SELECT * FROM donations WHERE origin IS NULL AND person IN ({marks}) "
        "ORDER BY person, at, uuid", uuids)


# --- control messages and per-peer delivery state ------------------------------


def queue_message(conn: sqlite3.Connection, *, peer: str, type: str, body: str,
                  now: str) -> None:
    conn.execute("INSERT INTO outbox (peer, type, body, created_at) VALUES (?, ?, ?, ?)",
                 (peer, type, body, now))


def queued_messages(conn: sqlite3.Connection, peer: str) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM outbox WHERE peer = ? ORDER BY id", (peer,)).fetchall()


def drop_message(conn: sqlite3.Connection, message_id: int, *, peer: str) -> None:
    conn.execute("DELETE FROM outbox WHERE id = ? AND peer = ?", (message_id, peer))


def peers_with_work(conn: sqlite3.Connection) -> list[str]:
    """Peers owed a control message or a batch (the worker's index-only question)."""
    rows = conn.execute(
        "SELECT DISTINCT peer FROM outbox UNION "
        "SELECT s.peer FROM shares s WHERE s.direction = 'outgoing' AND s.status = 'active' "
        "AND s.pull = 0 AND EXISTS (SELECT 1 FROM pending p WHERE p.share = s.id "
        "AND p.inflight IS NULL)"
    ).fetchall()
    return [row[0] for row in rows]


def delivery_state(conn: sqlite3.Connection, peer: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM delivery WHERE peer = ?", (peer,)).fetchone()
    return row


def record_success(conn: sqlite3.Connection, peer: str, at: str) -> None:
    conn.execute(
        "INSERT INTO delivery (peer, attempts, next_attempt, last_success_at, last_error, parked) "
        "VALUES (?, 0, 0, ?, NULL, 0) ON CONFLICT(peer) DO UPDATE SET attempts = 0, "
        "next_attempt = 0, last_success_at = excluded.last_success_at, last_error = NULL, "
        "parked = 0",
        (peer, at),
    )


def record_failure(conn: sqlite3.Connection, peer: str, *, error: str, next_attempt: float,
                   parked: bool) -> int:
    conn.execute(
        "INSERT INTO delivery (peer, attempts, next_attempt, last_error, parked) "
        "VALUES (?, 1, ?, ?, ?) ON CONFLICT(peer) DO UPDATE SET attempts = attempts + 1, "
        "next_attempt = excluded.next_attempt, last_error = excluded.last_error, "
        "parked = excluded.parked",
        (peer, next_attempt, error, int(parked)),
    )
    return int(conn.execute("SELECT attempts FROM delivery WHERE peer = ?",
                            (peer,)).fetchone()[0])


# --- what a subscriber received ---------------------------------------------------


def received_rows(conn: sqlite3.Connection, share_id: str,
                  origin_uuids: Sequence[str]) -> dict[str, sqlite3.Row]:
    rows = _in_chunks(conn, "SELECT * FROM received WHERE share = ? AND origin_uuid IN ({marks})",
                      origin_uuids, (share_id,))
    return {row["origin_uuid"]: row for row in rows}


def set_received(conn: sqlite3.Connection, share_id: str, origin_uuid: str, *, version: int,
                 person: str | None, state: str) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO received (share, origin_uuid, version, person, state) "
        "VALUES (?, ?, ?, ?, ?)",
        (share_id, origin_uuid, version, person, state),
    )


def members_of(conn: sqlite3.Connection, share_id: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM received WHERE share = ? AND state = 'member'", (share_id,)
    ).fetchall()


def memberships(conn: sqlite3.Connection, person: str) -> int:
    return int(conn.execute(
        "SELECT count(*) FROM received WHERE person = ? AND state = 'member'", (person,)
    ).fetchone()[0])


def received_person(conn: sqlite3.Connection, origin: str, origin_uuid: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM people WHERE origin = ? AND origin_uuid = ?", (origin, origin_uuid)
    ).fetchone()
    return row


def drop_received_records(conn: sqlite3.Connection, person: str, origin: str) -> None:
    conn.execute("DELETE FROM contacts WHERE person = ? AND origin = ?", (person, origin))
    conn.execute("DELETE FROM donations WHERE person = ? AND origin = ?", (person, origin))


def has_own_records(conn: sqlite3.Connection, person: str) -> bool:
    """Does the subscriber hold its own tags, contacts or donations on this received person?"""
    return conn.execute(
        "SELECT 1 FROM contacts WHERE person = ? AND origin IS NULL UNION ALL "
        "SELECT 1 FROM donations WHERE person = ? AND origin IS NULL UNION ALL "
        "SELECT 1 FROM taggings WHERE person = ? LIMIT 1",
        (person, person, person),
    ).fetchone() is not None


def set_link(conn: sqlite3.Connection, person: str, local: str | None) -> None:
    conn.execute("UPDATE people SET link = ? WHERE uuid = ?", (local, person))


def linked_copies(conn: sqlite3.Connection, local: str) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM people WHERE link = ? ORDER BY uuid", (local,)).fetchall()



def tombstoned(conn: sqlite3.Connection, keys: Sequence[str]) -> set[str]:
    return {row[0] for row in _in_chunks(conn, "SELECT key FROM tombstones WHERE key IN ({marks})",
                                         keys)}


def received_people(conn: sqlite3.Connection, origin: str,
                    origin_uuids: Sequence[str]) -> dict[str, sqlite3.Row]:
    """The subscriber's copies of these people from `origin`, by origin uuid."""
    rows = _in_chunks(conn, "SELECT * FROM people WHERE origin = ? AND origin_uuid IN ({marks})",
                      origin_uuids, (origin,))
    return {row["origin_uuid"]: row for row in rows}


def set_received_many(conn: sqlite3.Connection, share_id: str,
                      rows: Sequence[tuple[str, int, str | None, str]]) -> None:
    """(origin uuid, version, person, state) for many people of one share."""
    conn.executemany(
        "INSERT OR REPLACE INTO received (share, origin_uuid, version, person, state) "
        "VALUES (?, ?, ?, ?, ?)",
        [(share_id, *row) for row in rows],
    )


_RECORD_COLUMNS = {
    "contacts": ("uuid", "person", "method", "outcome", "note", "at", "by", "origin"),
    "donations": ("uuid", "person", "amount_cents", "currency", "at", "origin"),
}


def sync_received_records(conn: sqlite3.Connection, table: str, origin: str,
                          records_by_person: dict[str, list[dict[str, object]]]) -> None:
    """Make the origin's contacts (or donations) on each person exactly the lists given:
    insert new records, update changed ones, delete ones the origin no longer has."""
    columns = _RECORD_COLUMNS[table]
    existing = {row["uuid"]: row for row in _in_chunks(
        conn, f"SELECT * FROM {table} WHERE origin = ? AND person IN ({{marks}})",
        list(records_by_person), (origin,))}
    wanted: dict[str, tuple[object, ...]] = {}
    for person, records in records_by_person.items():
        for record in records:
            full = {**record, "person": person, "origin": origin}
            wanted[str(record["uuid"])] = tuple(full[c] for c in columns)
    gone = [(uuid,) for uuid in existing if uuid not in wanted]
    changed = [values for uuid, values in wanted.items()
               if uuid not in existing or tuple(existing[uuid][c] for c in columns) != values]
    if gone:
        conn.executemany(f"DELETE FROM {table} WHERE uuid = ?", gone)
    if changed:
        marks = ", ".join("?" * len(columns))
        conn.executemany(f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) "
                         f"VALUES ({marks})", changed)


def set_links(conn: sqlite3.Connection, links: Sequence[tuple[str | None, str]]) -> None:
    """(local person or None, received person) pairs."""
    conn.executemany("UPDATE people SET link = ? WHERE uuid = ?", links)


# --- versioned terms ----------------------------------------------------------------


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


def clear_columns(conn: sqlite3.Connection, people: Sequence[str], columns: Sequence[str],
                  now: str) -> None:
    """Blank person columns a narrowed share no longer grants."""
    if not columns or not people:
        return
    sets = ", ".join(f"{column} = NULL" for column in columns)
    conn.executemany(
        f"UPDATE people SET {sets}, updated_at = ?, version = version + 1 WHERE uuid = ?",
        [(now, person) for person in people])


def drop_records_of(conn: sqlite3.Connection, table: str, people: Sequence[str],
                    origin: str) -> None:
    if table not in ("contacts", "donations"):
        raise ValueError(table)
    conn.executemany(f"DELETE FROM {table} WHERE person = ? AND origin = ?",
                     [(person, origin) for person in people])


def local_person_exists(conn: sqlite3.Connection, uuid: str) -> bool:
    return conn.execute("SELECT 1 FROM people WHERE uuid = ? AND origin IS NULL",
                        (uuid,)).fetchone() is not None


# --- full resends (resync, restore) ---------------------------------------------------


def bump_counter(conn: sqlite3.Connection, floor: int) -> None:
    """Versions issued from now on exceed `floor` (and anything issued before)."""
    conn.execute("UPDATE counters SET value = max(value, ?) WHERE name = 'change'", (floor,))


def begin_full_resend(conn: sqlite3.Connection, share_id: str, epoch: str, now: str,
                      seq_floor: int = 0) -> int:
    """Re-send everyone in the share under a new epoch; once all of it is acked the
    subscriber is told (share.synced) to drop whoever the resend did not contain.
    `seq_floor` lifts the sequence past numbers a rolled-back node issued before."""
    conn.execute("UPDATE shares SET epoch = ?, resync_epoch = ?, seq = max(seq, ?), "
                 "updated_at = ? WHERE id = ?", (epoch, epoch, seq_floor, now, share_id))
    row = conn.execute("SELECT tag_id FROM shares WHERE id = ?", (share_id,)).fetchone()
    return enqueue_tagged(conn, share_id, int(row[0])) if row and row[0] is not None else 0


def finish_full_resend(conn: sqlite3.Connection, share_id: str) -> str | None:
    """If a full resend is complete (nothing pending), end it; returns its epoch."""
    row = conn.execute("SELECT resync_epoch FROM shares WHERE id = ?", (share_id,)).fetchone()
    if row is None or row[0] is None or has_pending(conn, share_id):
        return None
    conn.execute("UPDATE shares SET resync_epoch = NULL WHERE id = ?", (share_id,))
    return str(row[0])


def has_pending(conn: sqlite3.Connection, share_id: str) -> bool:
    return conn.execute("SELECT 1 FROM pending WHERE share = ? LIMIT 1",
                        (share_id,)).fetchone() is not None


def mark_epoch(conn: sqlite3.Connection, share_id: str, origin_uuids: Sequence[str],
               epoch: str) -> None:
    conn.executemany("UPDATE received SET epoch = ? WHERE share = ? AND origin_uuid = ?",
                     [(epoch, share_id, uuid) for uuid in origin_uuids])


def members_not_in_epoch(conn: sqlite3.Connection, share_id: str,
                         epoch: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM received WHERE share = ? AND state = 'member' "
        "AND (epoch IS NULL OR epoch != ?)", (share_id, epoch)).fetchall()
