"""SQL for the granter's side of syncing: the pending outbox, queued control messages,
per-peer delivery state, full resends, and reading what a batch carries."""

import sqlite3
from collections.abc import Sequence

from tagshare.node.storage.db import select_in_chunks


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


def has_ready(conn: sqlite3.Connection, share_id: str, more_than: int = 0) -> bool:
    """Are more than `more_than` rows of the share ready (counting no further)?"""
    return conn.execute(
        "SELECT 1 FROM pending WHERE share = ? AND inflight IS NULL LIMIT 1 OFFSET ?",
        (share_id, more_than)).fetchone() is not None


def tagged_among(conn: sqlite3.Connection, tag_id: int, uuids: Sequence[str]) -> set[str]:
    rows = select_in_chunks(
        conn, "SELECT person FROM taggings WHERE tag = ? AND person IN ({marks})",
        uuids, (tag_id,))
    return {row[0] for row in rows}


def own_contacts_of(conn: sqlite3.Connection, uuids: Sequence[str]) -> list[sqlite3.Row]:
    return select_in_chunks(
        conn, "SELECT * FROM contacts WHERE origin IS NULL AND person IN ({marks}) "
        "ORDER BY person, at, uuid", uuids)


def own_donations_of(conn: sqlite3.Connection, uuids: Sequence[str]) -> list[sqlite3.Row]:
    return select_in_chunks(
        conn, "SELECT * FROM donations WHERE origin IS NULL AND person IN ({marks}) "
        "ORDER BY person, at, uuid", uuids)


def queue_message(conn: sqlite3.Connection, *, peer: str, type: str, body: str,
                  now: str) -> None:
    conn.execute("INSERT INTO outbox (peer, type, body, created_at) VALUES (?, ?, ?, ?)",
                 (peer, type, body, now))


def queued_messages(conn: sqlite3.Connection, peer: str) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM outbox WHERE peer = ? ORDER BY id", (peer,)).fetchall()


def drop_message(conn: sqlite3.Connection, message_id: int, *, peer: str) -> None:
    conn.execute("DELETE FROM outbox WHERE id = ? AND peer = ?", (message_id, peer))


def drop_queued(conn: sqlite3.Connection, peer: str, message_type: str) -> int:
    """Drop every queued message of that type for the peer; how many there were."""
    return conn.execute("DELETE FROM outbox WHERE peer = ? AND type = ?",
                        (peer, message_type)).rowcount


def peers_with_work(conn: sqlite3.Connection) -> list[str]:
    """Peers owed a control message or a batch (the worker's index-only question)."""
    rows = conn.execute(
        "SELECT DISTINCT peer FROM outbox UNION "
        "SELECT s.peer FROM shares s WHERE s.direction = 'outgoing' AND s.status = 'active' "
        "AND s.pull = 0 AND EXISTS (SELECT 1 FROM pending p WHERE p.share = s.id "
        "AND p.inflight IS NULL)"
    ).fetchall()
    return [row[0] for row in rows]


def retry_times(conn: sqlite3.Connection, after: float) -> dict[str, float]:
    """Every peer backing off past `after`: when it may be tried again (one query for a
    sync round, however many peers there are)."""
    return {str(row[0]): float(row[1]) for row in conn.execute(
        "SELECT peer, next_attempt FROM delivery WHERE next_attempt > ?", (after,))}


def delivery_state(conn: sqlite3.Connection, peer: str) -> sqlite3.Row | None:
    """The peer's backoff, last success and error, and since when it has been failing."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT d.*, f.since AS failing_since FROM delivery d "
        "LEFT JOIN delivery_failing f ON f.peer = d.peer WHERE d.peer = ?", (peer,)).fetchone()
    return row


SUCCESS_REFRESH = 5  # seconds: how stale a peer's "last success" may be shown


def record_success(conn: sqlite3.Connection, peer: str, at: str) -> None:
    """A delivery or pull went through. Writes nothing if the peer was not failing and
    its last success is under SUCCESS_REFRESH old: a party delivering every edit to
    hundreds of peers would otherwise commit once more per peer per edit, and each
    commit wakes its sync worker for another round."""
    conn.execute(
        "INSERT INTO delivery (peer, attempts, next_attempt, last_success_at, last_error, parked) "
        "VALUES (?, 0, 0, ?, NULL, 0) ON CONFLICT(peer) DO UPDATE SET attempts = 0, "
        "next_attempt = 0, last_success_at = excluded.last_success_at, last_error = NULL, "
        "parked = 0 WHERE attempts != 0 OR next_attempt != 0 OR parked != 0 "
        "OR last_error IS NOT NULL OR last_success_at IS NULL "
        "OR last_success_at < strftime('%Y-%m-%dT%H:%M:%fZ', excluded.last_success_at, ?)",
        (peer, at, f"-{SUCCESS_REFRESH} seconds"),
    )
    conn.execute("DELETE FROM delivery_failing WHERE peer = ?", (peer,))


def record_failure(conn: sqlite3.Connection, peer: str, *, error: str, next_attempt: float,
                   parked: bool, at: str) -> int:
    """Count a failed delivery; `at` starts the failing streak unless one already runs."""
    conn.execute(
        "INSERT INTO delivery (peer, attempts, next_attempt, last_error, parked) "
        "VALUES (?, 1, ?, ?, ?) ON CONFLICT(peer) DO UPDATE SET attempts = attempts + 1, "
        "next_attempt = excluded.next_attempt, last_error = excluded.last_error, "
        "parked = excluded.parked",
        (peer, next_attempt, error, int(parked)),
    )
    conn.execute("INSERT OR IGNORE INTO delivery_failing (peer, since) VALUES (?, ?)",
                 (peer, at))
    return int(conn.execute("SELECT attempts FROM delivery WHERE peer = ?",
                            (peer,)).fetchone()[0])


def retry_now(conn: sqlite3.Connection, peer: str) -> bool:
    """End the peer's wait (and un-park it) so the sync worker tries at once. The count
    of failed attempts, the last error and the failing streak stay until a delivery
    succeeds: an alert on `tagshare_peer_failed_attempts` must not be reset by a click."""
    cursor = conn.execute("UPDATE delivery SET next_attempt = 0, parked = 0 WHERE peer = ?",
                          (peer,))
    return cursor.rowcount == 1


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



def has_queued(conn: sqlite3.Connection, message_type: str) -> bool:
    return conn.execute("SELECT 1 FROM outbox WHERE type = ? LIMIT 1",
                        (message_type,)).fetchone() is not None


def count_queued(conn: sqlite3.Connection, message_type: str) -> int:
    return int(conn.execute("SELECT count(*) FROM outbox WHERE type = ?",
                            (message_type,)).fetchone()[0])
