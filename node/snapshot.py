"""Snapshot chunks (protocol/snapshot.py): a share's first sync or resync in large,
column-oriented batches, built from rows and applied as sets.

The granter: while a share owes a peer that takes snapshots more than an ordinary
batch's worth of people, a batch takes up to CHUNK_PEOPLE pending rows at once (the
outbox stays the cursor: the rows are in flight under the batch's sequence number, and
only the peer's ack for it settles them). The node's own people still tagged go as
snapshot rows, read in one statement; everyone else (withdrawn, erased, received
people going back as refs or onward as chains) as ordinary items in the same batch.

The subscriber: a chunk's rows get every check an item gets (node/received.py): only
fields within the terms, versions against `received` (a duplicate, older or replayed
chunk changes nothing; a newer edit that came first stays), tombstones, matching by
email or phone; then the same bulk writes as items.
"""

import json
import sqlite3

import orjson

from tagshare.node import received
from tagshare.node.node import Node
from tagshare.node.storage import people as people_store
from tagshare.node.storage import received as inbound
from tagshare.node.storage import snapshot as chunks
from tagshare.node.storage import staged
from tagshare.protocol import LocalProtocolError, MalformedMessage
from tagshare.protocol.shares import MAX_ITEMS, columns_for
from tagshare.protocol.snapshot import RECORD_COLUMNS, Row, Snapshot

CHUNK_PEOPLE = 5000  # people a chunk carries at most (the protocol allows MAX_CHUNK_PEOPLE)
# A chunk's JSON at most: sealed, it grows by a third (base64) and must stay under
# MAX_MESSAGE_BYTES (8 MiB); a larger one is halved until it fits.
CHUNK_BYTES = 4 * 1024 * 1024


def take_snapshot(conn: sqlite3.Connection, share: sqlite3.Row, seq: int,
                  pending: list[tuple[str, int]]) -> tuple[Snapshot | None, list[tuple[str, int]]]:
    """For these pending rows, taken under batch `seq` inside the caller's transaction:
    the snapshot of the plain upserts among them, and the rows left for items (at most
    MAX_ITEMS; any more are released to a later batch). When a stored value cannot
    travel, there is no snapshot and the plain rows go as items, to be parked."""
    granted = tuple(json.loads(share["fields"]))
    rows = chunks.plain_rows(conn, share["id"], seq, share["tag_id"], columns_for(granted))
    records = {kind: chunks.own_records(conn, kind, share["id"], seq)
               for kind in RECORD_COLUMNS if kind in granted}
    snapshot, kept = _fitting(conn, share["id"], seq, granted, rows, records)
    sent = set(snapshot.uuids()) if snapshot is not None else set()
    released = {str(row[0]) for row in rows[len(kept):]}
    rest = [(person, version) for person, version in pending
            if person not in sent and person not in released]
    if len(rest) > MAX_ITEMS:
        chunks.release_people(conn, share["id"], seq, [p for p, _ in rest[MAX_ITEMS:]])
    return snapshot, rest[:MAX_ITEMS]


def _fitting(conn: sqlite3.Connection, share_id: str, seq: int, granted: tuple[str, ...],
             rows: list[Row], records: dict[str, list[Row]]) -> tuple[Snapshot | None, list[Row]]:
    """The snapshot of these rows, halved (the rest released to a later batch) until its
    JSON fits in CHUNK_BYTES, and the rows still in the batch; no snapshot if there are
    no rows, or a stored value cannot travel."""
    while rows:
        people = {row[0] for row in rows}
        kept = {kind: [r for r in found if r[0] in people] for kind, found in records.items()}
        size = len(orjson.dumps([rows, kept]))
        if size > CHUNK_BYTES and len(rows) > 1:
            half = len(rows) // 2
            chunks.release_people(conn, share_id, seq, [str(r[0]) for r in rows[half:]])
            rows = rows[:half]
            continue
        try:
            return Snapshot(columns=columns_for(granted), rows=tuple(rows),
                            contacts=_records(kept, "contacts"),
                            donations=_records(kept, "donations")), rows
        except LocalProtocolError:
            return None, rows
    return None, rows


def _records(kept: dict[str, list[Row]], kind: str) -> tuple[Row, ...] | None:
    return tuple(kept[kind]) if kind in kept else None


def apply_snapshot(node: Node, conn: sqlite3.Connection, share: sqlite3.Row,
                   snapshot: Snapshot, batch_fields: tuple[str, ...]) -> int:
    """Apply a chunk's plain upserts inside the caller's transaction, as sets; returns
    how many took effect. A chunk beyond the terms it was sent under is refused whole."""
    now_granted = tuple(json.loads(share["fields"]))
    check_snapshot_grant(snapshot, batch_fields)
    writable = set(columns_for(batch_fields)) & set(columns_for(now_granted))
    kinds = [k for k in RECORD_COLUMNS if k in batch_fields and k in now_granted]
    known = inbound.received_rows(conn, share["id"], snapshot.uuids())
    fresh = [row for row in snapshot.rows
             if (current := known.get(str(row[0]))) is None or current["version"] < row[1]]
    if fresh and inbound.any_tombstones(conn):
        buried = received.erased_here(conn, share, {
            str(row[0]): (int(row[1]), node.tombstone_key(str(row[0]), share["peer"]))
            for row in fresh})
        fresh = [row for row in fresh if row[0] not in buried]
    if not fresh:
        return 0
    origin = share["peer"]
    at = [(i, column) for i, column in enumerate(snapshot.columns, start=2)
          if column in writable]
    people = [(str(row[0]), {column: row[i] for i, column in at}) for row in fresh]
    existing = inbound.received_people(conn, origin, [uuid for uuid, _ in people])
    person_of = received.write_people(conn, origin, people, existing)
    tag_id = people_store.tag_id(conn, share["local_tag"], create=True) or 0
    staged.add_members(conn, share["id"], tag_id,
                       [(str(row[0]), int(row[1]), person_of[str(row[0])])
                        for row in fresh], known)
    for kind in kinds:  # a copy created just now has no records to drop
        grouped = snapshot.records(kind) or {}
        lists = {person_of[uuid]: grouped[uuid] for uuid, _ in people
                 if grouped[uuid] or uuid in existing}
        if lists:
            inbound.sync_received_records(conn, kind, origin, lists)
    return len(fresh)


def check_snapshot_grant(snapshot: Snapshot, granted: tuple[str, ...]) -> None:
    """A granter that sends more (or other) than its own terms grant is refused."""
    extra = set(snapshot.columns) - set(columns_for(granted))
    if extra:
        raise MalformedMessage(f"snapshot carries fields outside the share: {sorted(extra)}")
    for kind in RECORD_COLUMNS:
        if (getattr(snapshot, kind) is not None) != (kind in granted):
            raise MalformedMessage("snapshot's contacts or donations do not match the "
                                   "share's terms")
