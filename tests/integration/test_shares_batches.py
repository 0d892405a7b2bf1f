"""Batches made by hand, sealed with real keys and POSTed to real inboxes.

Duplicated and reordered batches change nothing beyond the newest version;
batches from a removed peer, for a share in the wrong direction, or for
another granter's share are refused and change nothing.
"""

from __future__ import annotations

import time
from typing import Any

from shares_helpers import (
    Org,
    Trio,
    assert_unchanged,
    make_batch,
    pair,
    post_inbox,
    sealed,
    send_as,
    settled,
    wait_until,
)

from tagshare.node import peers, people
from tagshare.node.ids import uuid7
from tagshare.protocol import Item, ShareBatch


def contact(method: str) -> dict[str, object]:
    return {"uuid": uuid7(), "method": method, "outcome": "home", "note": None,
            "at": "2024-05-01T10:00:00Z", "by": "vol1"}


def upsert(uuid: str, version: int, name: str, contacts: tuple[dict[str, object], ...] = (),
           donations: tuple[dict[str, object], ...] = ()) -> Item:
    return Item(op="upsert", uuid=uuid, version=version,
                fields={"first_name": name, "email": f"{name.lower()}@example.org"},
                contacts=contacts, donations=donations)


def state(org: Org, origin: Org, share_id: str) -> dict[str, Any]:
    """What `org` holds from `origin`, independent of local ids and times."""
    people_rows = {row["origin_uuid"]: (row["first_name"], row["email"])
                   for row in org.query("SELECT * FROM people WHERE origin = ?",
                                        (origin.node_id,))}
    contacts = sorted((row["uuid"], row["method"]) for row in org.query(
        "SELECT * FROM contacts WHERE origin = ?", (origin.node_id,)))
    donations = sorted((row["uuid"], row["amount_cents"]) for row in org.query(
        "SELECT * FROM donations WHERE origin = ?", (origin.node_id,)))
    received = sorted((row["origin_uuid"], row["version"], row["state"]) for row in org.query(
        "SELECT * FROM received WHERE share = ?", (share_id,)))
    return {"people": people_rows, "contacts": contacts, "donations": donations,
            "received": received, "people_total": org.count("people"),
            "taggings": org.count("taggings"), "tombstones": org.count("tombstones")}


async def test_duplicate_and_reordered_batches_end_at_the_newest_version(trio: Trio) -> None:
    party, a, b = trio.party, trio.a, trio.b
    to_a = await trio.active(a, fields="all")
    to_b = await trio.active(b, fields="all")
    p, q, r = uuid7(), uuid7(), uuid7()
    c1, c2 = contact("door"), contact("phone")
    d1 = {"uuid": uuid7(), "amount_cents": 500, "currency": "USD", "at": "2024-05-01T10:00:00Z"}
    rounds = [
        [upsert(p, 1, "Old", (c1,), (d1,)), upsert(q, 1, "Quinn"), upsert(r, 1, "Rae")],
        [upsert(p, 2, "Mid", (c1, c2), (d1,)), Item(op="erase", uuid=r, version=2)],
        [upsert(p, 3, "New", (c2,), ()), Item(op="withdraw", uuid=q, version=3)],
    ]

    # B gets them once, in order: the reference.
    for seq, items in enumerate(rounds, start=101):
        status, detail = await send_as(party, b, make_batch(party, to_b, seq, items))
        assert status == 200 and detail["applied"] == len(items), detail

    # A gets them newest first, then the newest and the oldest again.
    applied = []
    for seq in (103, 102, 101, 103, 101):
        batch = make_batch(party, to_a, seq, rounds[seq - 101])
        status, detail = await send_as(party, a, batch)
        assert status == 200, detail
        applied.append(detail["applied"])
    # 103: p and q; 102: only r's erase is new; then nothing.
    assert applied == [2, 1, 0, 0, 0]

    final = state(a, party, to_a)
    assert final["people"] == {p: ("New", "new@example.org")}
    assert final["contacts"] == [(c2["uuid"], "phone")]
    assert final["donations"] == []
    assert final["received"] == sorted([(p, 3, "member"), (q, 3, "withdrawn"),
                                        (r, 2, "erased")])
    # r's erase came before r ever did: A remembers it (so the older upsert stayed out)
    # but keeps no tombstone for someone it never received (issue 11, item 5).
    assert (final["people_total"], final["taggings"], final["tombstones"]) == (1, 1, 0)
    in_order = state(b, party, to_b)
    assert in_order["tombstones"] == 1
    assert {**final, "tombstones": 1} == in_order  # otherwise the same as in order, once

    # The very same envelope twice is a replay: refused, nothing changes.
    envelope = sealed(party, a, make_batch(party, to_a, 104, [upsert(p, 4, "Newer", (c2,))]))
    status, _ = await post_inbox(a, envelope)
    assert status == 200
    before = a.snapshot()
    status, body = await post_inbox(a, envelope)
    assert status == 409 and body["error"] == "replayed", body
    assert_unchanged(before, a.snapshot())
    assert a.copy_of(party, p)["first_name"] == "Newer"


async def test_a_removed_peers_batches_are_refused_and_change_nothing(trio: Trio) -> None:
    party, a = trio.party, trio.a
    share_id = await trio.active(a, fields="name,email")
    ann = party.add_person(first_name="Ann", email="ann@example.org")
    await wait_until(lambda: a.copy_of(party, ann), message="Ann arrives")
    await settled(party, share_id)

    removed = peers.remove_peer(a.op, party.name)
    assert removed["status"] == "removed"
    before = a.snapshot()
    batch = make_batch(party, share_id, 500, [
        Item(op="upsert", uuid=ann, version=10**6, fields={"first_name": "Forged"}),
        Item(op="upsert", uuid=uuid7(), version=1, fields={"first_name": "Newcomer"}),
    ])
    status, body = await send_as(party, a, batch)
    assert status == 403 and body["error"] == "unknown_peer", body
    assert_unchanged(before, a.snapshot())

    # The party's own worker meets the same refusal: parked and reported, nothing applied.
    party.edit(ann, first_name="Annie")
    parked = await wait_until(
        lambda: (rows := party.query("SELECT * FROM delivery WHERE peer = ? AND parked = 1",
                                     (a.node_id,))) and rows[0],
        message="the party's worker is refused")
    assert "unknown_peer" in parked["last_error"]
    assert parked["next_attempt"] > time.time() + 60
    assert party.pending(share_id) == 1  # kept, not dropped
    assert a.copy_of(party, ann)["first_name"] == "Ann"
    snapshot = a.snapshot()
    for table in ("people", "taggings", "received", "shares", "inbox_seen", "tombstones"):
        assert snapshot[table] == before[table], table


async def test_a_subscriber_cannot_send_a_batch_for_the_granters_share(trio: Trio) -> None:
    """A sends the party a batch naming the party's outgoing share: forbidden, nothing changes."""
    party, a = trio.party, trio.a
    share_id = await trio.active(a, fields="name,email")
    ann = party.add_person(first_name="Ann", email="ann@example.org")
    await wait_until(lambda: a.copy_of(party, ann), message="Ann arrives")
    await settled(party, share_id)

    before = party.snapshot()
    batch = make_batch(party, share_id, 900, [
        Item(op="upsert", uuid=ann, version=10**6, fields={"first_name": "Hijacked"}),
        Item(op="erase", uuid=uuid7(), version=10**6),
    ])
    status, body = await send_as(a, party, batch)
    assert status == 403 and body["error"] == "forbidden", body
    assert_unchanged(before, party.snapshot())
    assert party.query("SELECT first_name FROM people WHERE uuid = ?", (ann,))[0][0] == "Ann"


async def test_a_peer_cannot_send_a_batch_for_another_granters_share(trio: Trio) -> None:
    """B, paired with A too, names the party's share to A: forbidden, A unchanged."""
    party, a, b = trio.party, trio.a, trio.b
    share_id = await trio.active(a, fields="name,email")
    ann = party.add_person(first_name="Ann", email="ann@example.org")
    await wait_until(lambda: a.copy_of(party, ann), message="Ann arrives")
    await settled(party, share_id)
    await pair(a, b)

    before = a.snapshot()
    forged = make_batch(party, share_id, 901, [
        Item(op="upsert", uuid=ann, version=10**6, fields={"first_name": "Spoofed"}),
        Item(op="erase", uuid=ann, version=10**6 + 1),
    ])
    status, body = await send_as(b, a, forged)
    assert status == 403 and body["error"] == "forbidden", body
    assert_unchanged(before, a.snapshot())


async def test_an_old_batch_replayed_after_a_newer_edit_changes_nothing(trio: Trio) -> None:
    """The real worker's batches, re-sent late: the version guard keeps the newest values."""
    party, a = trio.party, trio.a
    share_id = await trio.active(a, fields="name,email")
    ann = party.add_person(first_name="Ann", email="ann@example.org")
    await wait_until(lambda: a.copy_of(party, ann), message="Ann arrives")
    party.edit(ann, first_name="Annie")
    await wait_until(lambda: a.copy_of(party, ann)["first_name"] == "Annie", message="edit")
    await settled(party, share_id)
    sent = [m for m in party.sent if isinstance(m, ShareBatch) and m.share == share_id]
    assert len(sent) >= 2
    before = a.snapshot()
    for batch in sent:  # every batch again, oldest first
        status, detail = await send_as(party, a, batch)
        assert status == 200 and detail["applied"] == 0, detail
    after = a.snapshot()
    for table in ("people", "taggings", "contacts", "received", "tombstones"):
        assert after[table] == before[table], table
    assert a.copy_of(party, ann)["first_name"] == "Annie"
    assert people.list_people(a.op)[0]["first_name"] == "Annie"
