"""The granter's side: turning pending rows into batches, and settling them on ack.

A batch takes up to BATCH_ITEMS ready rows of one active share, marks them
in flight under the share's next sequence number, and reads each person's
current state: still tagged -> upsert (granted fields only), no longer
tagged -> withdraw, gone -> erase. The subscriber's ack for that sequence
number deletes the rows, unless a newer change replaced them meanwhile
(the trigger resets `inflight`), so nothing committed is ever dropped.
"""

import json
import sqlite3
from collections import defaultdict

from tagshare.node import reshare
from tagshare.node.node import Node
from tagshare.node.snapshot import CHUNK_PEOPLE, take_snapshot
from tagshare.node.storage import db, outbox
from tagshare.node.storage import people as people_store
from tagshare.node.storage import reshare as reshare_store
from tagshare.node.storage import shares as store
from tagshare.protocol import (
    Item,
    LocalProtocolError,
    OutboxEntry,
    OutboxItems,
    ShareBatch,
    ShareSynced,
    message_from_dict,
)
from tagshare.protocol.shares import PULLABLE, columns_for

BATCH_ITEMS = 1000


def build_batch(node: Node, share_id: str, limit: int = BATCH_ITEMS,
                snapshots: bool = False) -> ShareBatch | None:
    """The next batch of an active share, or None if nothing is ready. For a peer that
    takes `snapshots`, while more than `limit` people are owed, a batch carries up to
    CHUNK_PEOPLE of them, the plain upserts as a snapshot (node/snapshot.py)."""
    with db.transaction(node.conn) as conn:
        share = store.get_share(conn, share_id)
        if share is None or share["status"] != "active" or share["direction"] != "outgoing":
            return None
        if not outbox.has_ready(conn, share_id):
            return None
        seq = store.next_seq(conn, share_id)
        rows = outbox.take_pending(conn, share_id, seq, CHUNK_PEOPLE if snapshots else limit)
        pending = [(r["person"], r["version"]) for r in rows]
        chunk = None
        if len(pending) > limit:
            chunk, pending = take_snapshot(conn, share, seq, pending)
        items, invalid = _items_for(node, conn, share, pending)
        if invalid:
            _park(node, conn, share_id, invalid)
    return ShareBatch(share=share_id, epoch=share["epoch"], seq=seq,
                      terms=share["terms_version"], items=tuple(items), snapshot=chunk)


def _items_for(node: Node, conn: sqlite3.Connection, share: sqlite3.Row,
               pending: list[tuple[str, int]]) -> tuple[list[Item], list[str]]:
    """make_items, reusing what another share of the same tag and terms already built
    (node/item_cache.py); in the pending rows' order."""
    terms = (int(share["tag_id"] or 0), str(share["fields"]))
    kept = node.item_cache.found(terms, pending)
    built, invalid = make_items(conn, share, [p for p in pending if p[0] not in kept],
                                node.node_id)
    node.item_cache.keep(terms, built)
    by_person = {**kept, **{item.uuid: item for item in built}}
    return [by_person[person] for person, _ in pending if person in by_person], invalid


def _park(node: Node, conn: sqlite3.Connection, share_id: str, people: list[str]) -> None:
    """People whose stored data cannot travel (a value over the protocol's limit, written by
    another tool) wait, visible in `status`, until an edit fixes them; the rest still go."""
    outbox.park_pending(conn, share_id, people)
    error = (f"{len(people)} person(s) not sent: a value is longer than the protocol allows "
             f"(e.g. {people[0]}); edit them to resume")
    store.note_error(conn, share_id, error)
    node.audit("share.parked", share=share_id, people=people[:20])


def make_items(conn: sqlite3.Connection, share: sqlite3.Row, pending: list[tuple[str, int]],
               node_id: str) -> tuple[list[Item], list[str]]:
    """The batch items for these pending rows, and the people whose data cannot be sent.

    A received person goes back towards where it came from as a reference (`ref`),
    onward only as its origin allowed (a `chain`, with that path's fields), and
    otherwise not at all (withdrawn; erased if its origin erased it)."""
    granted = tuple(json.loads(share["fields"]))
    columns = columns_for(granted)
    uuids = [person for person, _ in pending]
    people = people_store.people_fields(conn, uuids)
    tagged = outbox.tagged_among(conn, share["tag_id"], uuids)
    routes = reshare.routes(conn, node_id, share, {p: people[p] for p in uuids if p in people})
    relayed = reshare.relayed_records(conn, share, people,
                                      [p for p, route in routes.items() if route == "ref"])
    gone = reshare_store.gone_ops(conn, [p for p in uuids if routes.get(p, "") in ("", "gone")])
    contacts = _grouped(outbox.own_contacts_of(conn, uuids)) if "contacts" in granted else None
    donations = _grouped(outbox.own_donations_of(conn, uuids)) if "donations" in granted else None
    items: list[Item] = []
    invalid: list[str] = []
    for person, version in pending:
        row = people.get(person)
        route = routes.get(person)
        if row is None:  # our person erased, or a received copy deleted
            op = "withdraw" if gone.get(person) == "withdraw" else "erase"
            items.append(Item(op=op, uuid=person, version=version))
        elif route == "frozen":  # its origin's terms say the receiver keeps what it has
            continue
        elif route == "gone":  # a received person nobody allowed us to pass on (any more)
            op = "erase" if gone.get(person) == "erase" else "withdraw"
            items.append(Item(op=op, uuid=person, version=version))
        elif person not in tagged:
            items.append(Item(op="withdraw", uuid=person, version=version))
        else:
            forward = route if isinstance(route, reshare.Forward) else None
            received = route == "ref"  # pass on only what we originated, or was allowed
            try:
                items.append(Item(
                    op="upsert", uuid=person, version=version,
                    fields={} if received else {
                        column: row[column] for column in
                        (forward.columns if forward else columns)},
                    ref=(row["origin"], row["origin_uuid"]) if received else None,
                    chain=forward.chain if forward else None,
                    relayed=relayed.get(person, ()),
                    contacts=None if contacts is None else tuple(
                        {k: c[k] for k in ("uuid", "method", "outcome", "note", "at", "by")}
                        for c in contacts.get(person, [])),
                    donations=None if donations is None else tuple(
                        {k: d[k] for k in ("uuid", "amount_cents", "currency", "at")}
                        for d in donations.get(person, [])),
                ))
            except LocalProtocolError:
                invalid.append(person)
    return items, invalid


def _grouped(rows: list[sqlite3.Row]) -> dict[str, list[sqlite3.Row]]:
    groups: dict[str, list[sqlite3.Row]] = defaultdict(list)
    for row in rows:
        groups[row["person"]].append(row)
    return groups


def settle_batch(conn: sqlite3.Connection, share_id: str, seq: int, at: str) -> int:
    """The subscriber acknowledged batch `seq` of the share. If that completes a full
    resend, tell the subscriber (after everything it carried was acked)."""
    settled = outbox.settle_pending(conn, share_id, seq)
    store.note_delivered(conn, share_id, at)
    epoch = outbox.finish_full_resend(conn, share_id)
    share = store.get_share(conn, share_id)
    if epoch is not None and share is not None:
        synced = ShareSynced(share=share_id, epoch=epoch)
        outbox.queue_message(conn, peer=share["peer"], type=synced.TYPE,
                            body=json.dumps(synced.to_dict()), now=at)
    return settled


def pull_answer(node: Node, peer: sqlite3.Row) -> OutboxItems:
    """What a subscriber that cannot be reached gets when it pulls: queued control
    messages for it, then at most one batch (it pulls again while batches come)."""
    conn = node.conn
    entries = [
        OutboxEntry(ref=row["id"], message=message_from_dict(row["type"], json.loads(row["body"])))
        for row in outbox.queued_messages(conn, peer["node_id"]) if row["type"] in PULLABLE
    ][:100]
    for share in store.active_outgoing(conn, peer["node_id"]):
        with db.transaction(conn):
            outbox.release_inflight(conn, share["id"])  # an unacked earlier pull goes again
        batch = build_batch(node, share["id"])
        if batch is not None:
            entries.append(OutboxEntry(ref=0, message=batch))
            break
    return OutboxItems(entries=tuple(entries))
