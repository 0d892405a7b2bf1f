"""SQL for the granter's snapshot chunks: what a batch in flight carries, read as rows.

A chunk's people are the pending rows marked in flight under its sequence number, so
each read here is one statement joined on `pending` (no IN list of uuids): the plain
people (the node's own, still tagged), then their own contacts and donations.
"""

import sqlite3
from collections.abc import Sequence

from tagshare.node.storage.db import select_in_chunks

_RECORD_SQL = {
    "contacts": "c.person, c.uuid, c.method, c.outcome, c.note, c.at, c.by",
    "donations": "c.person, c.uuid, c.amount_cents, c.currency, c.at",
}


def plain_rows(conn: sqlite3.Connection, share_id: str, seq: int, tag_id: int,
               columns: Sequence[str]) -> list[tuple[object, ...]]:
    """(uuid, version, *columns) of the node's own people that batch `seq` carries and
    that still carry the tag: the people a snapshot chunk sends as plain upserts."""
    picked = "".join(f", p.{column}" for column in columns)
    cursor = conn.execute(
        f"SELECT p.uuid, pe.version{picked} FROM pending pe "
        "JOIN people p ON p.uuid = pe.person "
        "JOIN taggings t ON t.tag = ? AND t.person = pe.person "
        "WHERE pe.share = ? AND pe.inflight = ? AND p.origin IS NULL "
        "ORDER BY pe.person", (tag_id, share_id, seq))
    cursor.row_factory = None
    return cursor.fetchall()


def own_records(conn: sqlite3.Connection, kind: str, share_id: str,
                seq: int) -> list[tuple[object, ...]]:
    """The node's own contacts (or donations) of every person batch `seq` carries, as
    rows of protocol/snapshot.py's RECORD_COLUMNS, in the order an item lists them."""
    table = {"contacts": "contacts", "donations": "donations"}[kind]
    cursor = conn.execute(
        f"SELECT {_RECORD_SQL[kind]} FROM pending pe JOIN {table} c ON c.person = pe.person "
        "WHERE pe.share = ? AND pe.inflight = ? AND c.origin IS NULL "
        "ORDER BY c.person, c.at, c.uuid", (share_id, seq))
    cursor.row_factory = None
    return cursor.fetchall()


def release_people(conn: sqlite3.Connection, share_id: str, seq: int,
                   people: Sequence[str]) -> None:
    """Put some of batch `seq`'s rows back as ready: a later batch carries them."""
    select_in_chunks(
        conn, "UPDATE pending SET inflight = NULL WHERE share = ? AND inflight = ? "
        "AND person IN ({marks}) RETURNING person", people, (share_id, seq))
