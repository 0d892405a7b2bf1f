"""A first sync through snapshot chunks between real nodes (protocol/snapshot.py).

The party holds a few thousand tagged people with contacts and donations. A campaign
whose signed document says `share.snapshot` gets them in chunks of more than an
ordinary batch's worth of people, while the party edits some of them, and ends
holding every person at their latest version; a campaign whose document does not
say it gets ordinary batches only, and ends the same, until its rotated document
tells the party: its resync then goes in chunks.
"""

from __future__ import annotations

import dataclasses
import json
import random
from typing import Any

import pytest
from shares_helpers import (
    TAG,
    Org,
    Trio,
    assert_unchanged,
    make_batch,
    send_as,
    settled,
    wait_until,
)

from tagshare.node import keys as key_ops
from tagshare.node import outgoing, shares
from tagshare.node.ids import uuid7
from tagshare.node.outgoing import BATCH_ITEMS
from tagshare.node.storage import db
from tagshare.node.storage import people as people_store
from tagshare.protocol import ShareBatch
from tagshare.protocol.snapshot import Snapshot

PEOPLE = 3000
AT = "2026-10-03T14:30:00.000Z"


def load(org: Org, count: int) -> list[str]:
    """`count` tagged people, a door contact on every second, a donation on every third,
    written in one transaction as an import would."""
    rng = random.Random(14)
    rows = [{"uuid": uuid7(), "first_name": f"First{i}", "last_name": rng.choice("ABC"),
             "email": f"p{i}@example.org", "phone": None, "address1": f"{i} Main St",
             "city": "Columbus", "state": "OH", "zip": "43215",
             "created_at": AT, "updated_at": AT} for i in range(count)]
    conn = org.op.conn
    with db.transaction(conn):
        tag_id = people_store.tag_id(conn, TAG, create=True) or 0
        people_store.insert_people(conn, rows)
        people_store.add_taggings(conn, [(tag_id, str(row["uuid"])) for row in rows])
        conn.executemany(
            "INSERT INTO contacts (uuid, person, method, outcome, note, at, by) "
            "VALUES (?, ?, 'door', 'home', NULL, ?, 'Sam')",
            [(uuid7(), row["uuid"], AT) for row in rows[::2]])
        conn.executemany(
            "INSERT INTO donations (uuid, person, amount_cents, currency, at) "
            "VALUES (?, ?, ?, 'USD', ?)",
            [(uuid7(), row["uuid"], 100 + i, AT) for i, row in enumerate(rows[::3])])
    return [str(row["uuid"]) for row in rows]


def shared(org: Org) -> dict[str, Any]:
    """The party's tagged people, with their contacts and donations."""
    return {
        "people": sorted(tuple(r) for r in org.query(
            "SELECT uuid, first_name, last_name, email, address1 FROM people "
            "WHERE origin IS NULL AND uuid IN (SELECT person FROM taggings)")),
        "contacts": sorted(tuple(r) for r in org.query(
            "SELECT uuid, person, method FROM contacts WHERE origin IS NULL")),
        "donations": sorted(tuple(r) for r in org.query(
            "SELECT uuid, person, amount_cents FROM donations WHERE origin IS NULL"))}


def copies(org: Org, origin: Org) -> dict[str, Any]:
    """What `org` holds from `origin`, by the origin's uuids."""
    return {
        "people": sorted(tuple(r) for r in org.query(
            "SELECT origin_uuid, first_name, last_name, email, address1 FROM people "
            "WHERE origin = ?", (origin.node_id,))),
        "contacts": sorted(tuple(r) for r in org.query(
            "SELECT c.uuid, p.origin_uuid, c.method FROM contacts c "
            "JOIN people p ON p.uuid = c.person WHERE c.origin = ?", (origin.node_id,))),
        "donations": sorted(tuple(r) for r in org.query(
            "SELECT d.uuid, p.origin_uuid, d.amount_cents FROM donations d "
            "JOIN people p ON p.uuid = d.person WHERE d.origin = ?", (origin.node_id,)))}


def batches_to(granter: Org, share_id: str) -> list[Any]:
    return [b for b in granter.batches() if b.share == share_id]


async def test_a_first_sync_goes_in_chunks_and_edits_land_at_their_latest(
        trio: Trio, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outgoing, "CHUNK_PEOPLE", 1200)  # a few chunks of a few thousand
    party, a = trio.party, trio.a
    uuids = load(party, PEOPLE)
    share_id = await trio.offer(a)
    shares.accept_share(a.op, share_id, None)
    await wait_until(lambda: party.status(share_id) == "active", message="the accept lands")
    for n, uuid in enumerate(uuids[::300]):  # while the sync is on its way
        party.edit(uuid, first_name=f"Edited{n}")
    await settled(party, share_id, timeout=60)
    await wait_until(lambda: copies(a, party) == shared(party), timeout=30,
                     message="campaign A holds the party's latest")
    chunks = [b for b in batches_to(party, share_id) if b.snapshot is not None]
    assert len(chunks) >= 2, "the first sync went without snapshot chunks"
    assert all(len(b.snapshot.rows) > BATCH_ITEMS for b in chunks)
    held = copies(a, party)
    assert len(held["people"]) == PEOPLE
    assert (len(held["contacts"]), len(held["donations"])) == (PEOPLE // 2, PEOPLE // 3)
    assert sum(1 for row in held["people"] if row[1].startswith("Edited")) == 10
    members = a.count("received", "share = ? AND state = 'member'", (share_id,))
    assert members == PEOPLE


async def test_a_peer_that_does_not_say_it_takes_chunks_gets_ordinary_batches(
        trio: Trio) -> None:
    party, b = trio.party, trio.b
    load(party, PEOPLE)
    [row] = party.query("SELECT document FROM peers WHERE node_id = ?", (b.node_id,))
    document = json.loads(row[0])
    assert document.pop("capabilities") == ["share.snapshot"]
    party.execute("UPDATE peers SET document = ? WHERE node_id = ?",
                  (json.dumps(document), b.node_id))
    share_id = await trio.active(b)
    await settled(party, share_id, timeout=60)
    sent = batches_to(party, share_id)
    assert sent and all(batch.snapshot is None for batch in sent)
    assert max(len(batch.items) for batch in sent) <= BATCH_ITEMS
    assert copies(b, party) == shared(party)

    # B rotates its keys: the rotated document tells the party, and a resync goes in chunks.
    key_ops.rotate_keys(b.op)
    await wait_until(lambda: "capabilities" in json.loads(party.query(
        "SELECT document FROM peers WHERE node_id = ?", (b.node_id,))[0][0]),
        message="the party learns that B takes chunks")
    party.sent.clear()
    shares.resync_share(b.op, share_id)
    await wait_until(lambda: any(batch.snapshot is not None
                                 for batch in batches_to(party, share_id)),
                     message="the resync goes in chunks")
    await settled(party, share_id, timeout=60)
    await wait_until(lambda: copies(b, party) == shared(party), timeout=30,
                     message="B holds the party's people after the resync")


def chunk(people: list[tuple[str, int, str]], *, email: bool = False) -> Snapshot:
    columns = ("first_name", "last_name", "email") if email else ("first_name", "last_name")
    return Snapshot(columns=columns,
                    rows=tuple((uuid, version, name, "Doe", *(["x@example.org"] if email else []))
                               for uuid, version, name in people),
                    contacts=(), donations=None)


async def test_hostile_chunks_through_a_real_inbox_change_nothing(trio: Trio) -> None:
    """Sealed with the party's real keys and POSTed to campaign A's inbox: a chunk beyond
    the terms is refused whole, a replayed or older chunk applies nothing."""
    party, a = trio.party, trio.a
    share_id = await trio.active(a, fields="name,contacts")
    people = [(uuid7(), 5, f"Name{i}") for i in range(50)]

    def with_chunk(seq: int, snapshot: Snapshot) -> ShareBatch:
        return dataclasses.replace(make_batch(party, share_id, seq, []), snapshot=snapshot)

    before = a.snapshot()
    status, body = await send_as(party, a, with_chunk(201, chunk(people, email=True)))
    assert status == 400 and body["error"] == "malformed", body
    assert_unchanged(before, a.snapshot())

    status, detail = await send_as(party, a, with_chunk(202, chunk(people)))
    assert status == 200 and detail["applied"] == 50, detail
    before = a.snapshot()
    status, detail = await send_as(party, a, with_chunk(203, chunk(people)))  # replayed
    assert status == 200 and detail["applied"] == 0, detail
    older = [(uuid, 4, "Older") for uuid, _, _ in people]
    status, detail = await send_as(party, a, with_chunk(204, chunk(older)))
    assert status == 200 and detail["applied"] == 0, detail
    after = a.snapshot()
    assert after["people"] == before["people"] and after["received"] == before["received"]
    assert {row["first_name"] for row in a.received_people(party).values()} == {
        name for _, _, name in people}
