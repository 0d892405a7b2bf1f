"""Ending a share: revoke with purge and with keep (granter), leave (subscriber).

Campaign B holds a second, untouched share of the same tag: once a later
change has reached B, it would have reached A too if anything still flowed.
"""

from __future__ import annotations

import time

import pytest
from shares_helpers import (
    TAG,
    Trio,
    make_batch,
    post_inbox,
    run_cli,
    sealed,
    settled,
    wait_until,
)

from tagshare.node import people, shares
from tagshare.protocol import Item


async def _people_on_both(trio: Trio, to_a: str, to_b: str) -> tuple[str, str]:
    party, a, b = trio.party, trio.a, trio.b
    ann = party.add_person(first_name="Ann", email="ann@example.org", phone="+1 614 555 0101")
    bob = party.add_person(first_name="Bob", email="bob@example.org")
    people.add_contact(party.op, ann, method="door", outcome="home", note=None, at=None, by=None)
    for org, share_id in ((a, to_a), (b, to_b)):
        await wait_until(lambda org=org: len(org.received_people(party)) == 2,
                         message=f"{org.label} has both")
        await settled(party, share_id)
    return ann, bob


async def _barrier(trio: Trio, uuid: str, first_name: str) -> None:
    """The party edits a person; wait until B (still subscribed) has it."""
    trio.party.edit(uuid, first_name=first_name)
    await wait_until(lambda: trio.b.copy_of(trio.party, uuid)["first_name"] == first_name,
                     message="the edit reaches B")


async def test_revoke_with_purge_removes_what_came_only_through_the_share(trio: Trio) -> None:
    party, a, b = trio.party, trio.a, trio.b
    to_a = await trio.active(a, fields="all", on_revoke="purge")
    to_b = await trio.active(b, fields="all", on_revoke="purge")
    ann, bob = await _people_on_both(trio, to_a, to_b)
    assert a.count("contacts", "origin = ?", (party.node_id,)) == 1
    # A logs its own contact on the received Ann.
    ann_copy = a.copy_of(party, ann)["uuid"]
    own = people.add_contact(a.op, ann_copy, method="phone", outcome="supporter",
                             note="A's own call", at=None, by="a-vol")

    result = await run_cli(party, "share", "revoke", to_a)
    assert result.exit_code == 0, result.output
    assert party.status(to_a) == "revoked"
    await wait_until(lambda: a.status(to_a) == "revoked", message="A is told")
    await wait_until(lambda: party.count("outbox") == 0, message="revoke delivered")

    assert a.copy_of(party, bob) is None
    # A's own contact is kept, on a person that holds nothing of the party's any more.
    kept = a.query("SELECT * FROM contacts WHERE uuid = ?", (own,))
    assert len(kept) == 1 and kept[0]["origin"] is None and kept[0]["note"] == "A's own call"
    holder = a.query("SELECT * FROM people WHERE uuid = ?", (kept[0]["person"],))
    assert len(holder) == 1
    for column in ("first_name", "last_name", "email", "phone", "address1", "city", "zip"):
        assert holder[0][column] is None, column
    assert a.count("contacts", "origin = ?", (party.node_id,)) == 0
    assert a.count("donations", "origin = ?", (party.node_id,)) == 0
    assert a.count("taggings", "tag IN (SELECT id FROM tags WHERE name = ?)",
                   (f"{party.slug}:{TAG}",)) == 0
    assert a.count("received", "share = ? AND state = 'member'", (to_a,)) == 0
    assert a.count("tombstones") == 0

    # Nothing flows any more: later edits reach B, not A.
    party.add_person(first_name="Cy", email="cy@example.org")
    await _barrier(trio, bob, "Robert")
    await settled(party, to_b)
    assert party.pending(to_a) == 0
    assert a.copy_of(party, bob) is None
    assert len(a.received_people(party)) <= 1  # at most Ann's emptied holder
    # A late batch of the revoked share (say, one that was in flight) applies nothing.
    before = a.snapshot()
    late = make_batch(party, to_a, 99, [Item(op="upsert", uuid=bob, version=10**9,
                                             fields={"first_name": "Late"})])
    status, _ = await post_inbox(a, sealed(party, a, late))
    assert status == 200
    after = a.snapshot()
    for table in ("people", "taggings", "contacts", "donations", "received"):
        assert after[table] == before[table], table


async def test_revoke_with_keep_freezes_what_was_received(trio: Trio) -> None:
    party, a, b = trio.party, trio.a, trio.b
    to_a = await trio.active(a, fields="all", on_revoke="keep")
    to_b = await trio.active(b, fields="all", on_revoke="keep")
    ann, bob = await _people_on_both(trio, to_a, to_b)
    before = {uuid: dict(row) for uuid, row in a.received_people(party).items()}

    shares.revoke_share(party.op, to_a)
    await wait_until(lambda: a.status(to_a) == "revoked", message="A is told")
    listed = {s["id"]: s for s in shares.list_shares(a.op)}
    assert listed[to_a]["status"] == "revoked"

    await _barrier(trio, ann, "Annie")
    people.remove_tags(party.op, bob, [TAG])
    await wait_until(lambda: b.copy_of(party, bob) is None, message="withdrawn from B")
    await settled(party, to_b)
    # A keeps both, as they were, still tagged, with the party's contact.
    after = {uuid: dict(row) for uuid, row in a.received_people(party).items()}
    assert after == before
    for row in after.values():
        assert a.tags_of(row["uuid"]) == {f"{party.slug}:{TAG}"}
    assert a.count("contacts", "origin = ?", (party.node_id,)) == 1
    assert party.pending(to_a) == 0


async def test_leave_stops_the_flow_and_drops_what_the_granter_owed(trio: Trio) -> None:
    party, a, b = trio.party, trio.a, trio.b
    to_a = await trio.active(a, fields="all", on_revoke="keep")
    to_b = await trio.active(b, fields="all", on_revoke="keep")
    ann, bob = await _people_on_both(trio, to_a, to_b)
    before = {uuid: dict(row) for uuid, row in a.received_people(party).items()}

    # The party owes A some changes it has not delivered yet (A is backed off).
    party.backoff(a, until=time.time() + 3600)
    party.edit(ann, first_name="Annie")
    party.add_person(first_name="Cy", email="cy@example.org")
    assert party.pending(to_a) == 2

    result = await run_cli(a, "share", "leave", to_a[:10], "--yes")
    assert result.exit_code == 0, result.output
    assert a.status(to_a) == "left"
    await wait_until(lambda: party.status(to_a) == "left", message="the party is told")
    assert party.pending(to_a) == 0

    party.retry_now(a)
    await _barrier(trio, bob, "Robert")
    await settled(party, to_b)
    assert party.pending(to_a) == 0
    assert {uuid: dict(row) for uuid, row in a.received_people(party).items()} == before
    assert a.status(to_a) == "left"
    with pytest.raises(Exception, match="left"):
        shares.resync_share(a.op, to_a)


async def test_leave_with_purge_removes_the_received_people(trio: Trio) -> None:
    party, a, b = trio.party, trio.a, trio.b
    to_a = await trio.active(a, fields="name,email", on_revoke="purge")
    to_b = await trio.active(b, fields="name,email", on_revoke="purge")
    _, bob = await _people_on_both(trio, to_a, to_b)

    shares.leave_share(a.op, to_a)
    assert a.received_people(party) == {}
    await wait_until(lambda: party.status(to_a) == "left", message="the party is told")
    await _barrier(trio, bob, "Robert")
    assert a.received_people(party) == {}
    assert a.count("people") == 0


async def test_a_revoke_reaches_a_subscriber_that_was_down(trio: Trio) -> None:
    party, a, b = trio.party, trio.a, trio.b
    to_a = await trio.active(a, fields="all", on_revoke="purge")
    to_b = await trio.active(b, fields="all", on_revoke="purge")
    await _people_on_both(trio, to_a, to_b)

    await a.stop()
    shares.revoke_share(party.op, to_a)
    assert party.count("outbox", "peer = ?", (a.node_id,)) == 1
    await a.start()
    await wait_until(lambda: a.status(to_a) == "revoked", message="A is told once back",
                     each=lambda: party.retry_now(a))
    assert a.received_people(party) == {}
    assert a.count("people") == 0
    await wait_until(lambda: party.count("outbox") == 0, message="the revoke is acked")
    assert b.status(to_b) == "active" and len(b.received_people(party)) == 2


async def test_a_leave_reaches_a_granter_that_was_down(trio: Trio) -> None:
    party, a = trio.party, trio.a
    to_a = await trio.active(a, fields="all", on_revoke="keep")
    ann = party.add_person(first_name="Ann", email="ann@example.org")
    await wait_until(lambda: a.copy_of(party, ann), message="Ann arrives")
    await settled(party, to_a)

    await party.stop()
    shares.leave_share(a.op, to_a)
    party.edit(ann, first_name="Annie")  # owed to A, which has just left
    assert party.pending(to_a) == 1
    await party.start()
    await wait_until(lambda: party.status(to_a) == "left", message="the party is told",
                     each=lambda: a.retry_now(party))
    await wait_until(lambda: party.pending(to_a) == 0, message="nothing owed to A")
    await wait_until(lambda: a.count("outbox") == 0, message="the leave is acked")
    # Whatever the party pushed before it heard of the leave changed nothing on A.
    assert a.copy_of(party, ann)["first_name"] == "Ann"
    assert a.status(to_a) == "left"
