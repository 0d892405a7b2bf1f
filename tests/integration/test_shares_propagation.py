"""Live propagation (add, tag add, edit, contacts, donations, tag remove, erase) and resync.

Every change is made on the party's second connection while its server and
sync worker run, so the worker must notice another process's commit.
"""

from __future__ import annotations

import dataclasses

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

from tagshare.node import people
from tagshare.protocol import Item


async def test_changes_reach_the_subscriber_by_themselves(trio: Trio) -> None:
    party, a, b = trio.party, trio.a, trio.b
    full = await trio.active(a, fields="all")
    contacts_only = await trio.active(b, fields="email,contacts")
    local_tag = f"{party.slug}:{TAG}"

    # add a tagged person
    ann = party.add_person(first_name="Ann", last_name="Lee", email="ann@example.org",
                           phone="+1 614 555 0101", address1="1 Main St", city="Columbus",
                           state="OH", zip="43215")
    row = await wait_until(lambda: a.copy_of(party, ann), message="Ann reaches A")
    assert (row["first_name"], row["last_name"], row["email"], row["phone"], row["address1"],
            row["city"], row["state"], row["zip"]) == (
        "Ann", "Lee", "ann@example.org", "+16145550101", "1 Main St", "Columbus", "OH", "43215")
    assert a.tags_of(row["uuid"]) == {local_tag}

    # tag an existing, untagged person
    dan = party.add_person(tags=(), first_name="Dan", email="dan@example.org")
    people.add_tags(party.op, dan, [TAG])
    row = await wait_until(lambda: a.copy_of(party, dan), message="Dan reaches A")
    assert a.tags_of(row["uuid"]) == {local_tag}

    # edit
    party.edit(ann, email="ann.lee@example.org", city="Dayton")
    await wait_until(lambda: a.copy_of(party, ann)["city"] == "Dayton", message="edit")
    assert a.copy_of(party, ann)["email"] == "ann.lee@example.org"

    # contact and donation
    contact = people.add_contact(party.op, ann, method="phone", outcome="supporter",
                                 note="call back", at="2024-05-01T10:00:00Z", by="vol7")
    donation = people.add_donation(party.op, ann, amount="25.50", currency="usd", at=None)
    copy = a.copy_of(party, ann)["uuid"]
    got = await wait_until(lambda: a.query("SELECT * FROM contacts WHERE uuid = ?", (contact,)),
                           message="contact reaches A")
    assert (got[0]["person"], got[0]["method"], got[0]["outcome"], got[0]["note"],
            got[0]["by"], got[0]["origin"]) == (
        copy, "phone", "supporter", "call back", "vol7", party.node_id)
    got = await wait_until(lambda: a.query("SELECT * FROM donations WHERE uuid = ?", (donation,)),
                           message="donation reaches A")
    assert (got[0]["person"], got[0]["amount_cents"], got[0]["currency"], got[0]["origin"]) == (
        copy, 2550, "USD", party.node_id)
    # B was granted contacts but not donations.
    await wait_until(lambda: b.count("contacts", "uuid = ?", (contact,)) == 1,
                     message="contact reaches B")
    await settled(party, contacts_only)
    assert b.count("donations") == 0
    assert b.copy_of(party, ann)["first_name"] is None

    # tag remove: the copy goes, with no tombstone
    tombstones = a.count("tombstones")
    people.remove_tags(party.op, dan, [TAG])
    await wait_until(lambda: a.copy_of(party, dan) is None, message="withdrawn from A")
    assert a.received(full, dan)["state"] == "withdrawn"
    assert a.count("tombstones") == tombstones
    assert party.count("people", "uuid = ?", (dan,)) == 1  # the party keeps its person

    # erase: the copy and everything hanging off it goes; a tombstone stays
    await settled(party, full)
    replay = [batch for batch in party.batches() if batch.share == full
              and any(item.uuid == ann and item.op == "upsert" for item in batch.items)][-1]
    people.erase_person(party.op, ann)
    await wait_until(lambda: a.copy_of(party, ann) is None, message="erased on A")
    await wait_until(lambda: b.copy_of(party, ann) is None, message="erased on B")
    assert a.received(full, ann)["state"] == "erased"
    assert a.count("tombstones") == tombstones + 1
    assert a.count("contacts", "person = ?", (copy,)) == 0
    assert a.count("donations", "person = ?", (copy,)) == 0
    assert a.count("taggings", "person = ?", (copy,)) == 0
    erased_version = a.received(full, ann)["version"]

    # A replayed older upsert (re-sealed, so not a transport replay) brings nothing back.
    before = a.snapshot()
    status, _ = await post_inbox(a, sealed(party, a, replay))
    assert status == 200
    # Nor does a forged newer one: the tombstone outlives version numbers.
    newer = dataclasses.replace(replay, seq=replay.seq + 100, items=(
        dataclasses.replace(next(i for i in replay.items if i.uuid == ann),
                            version=erased_version + 1000),))
    status, _ = await post_inbox(a, sealed(party, a, newer))
    assert status == 200
    assert a.copy_of(party, ann) is None
    after = a.snapshot()
    assert after["people"] == before["people"]
    assert after["contacts"] == before["contacts"]
    assert after["donations"] == before["donations"]
    assert after["taggings"] == before["taggings"]
    assert after["tombstones"] == before["tombstones"]
    assert a.received(full, ann)["state"] == "erased"


async def test_resync_brings_back_a_copy_deleted_by_hand(trio: Trio) -> None:
    party, a = trio.party, trio.a
    ann = party.add_person(first_name="Ann", email="ann@example.org", phone="+1 614 555 0101")
    bob = party.add_person(first_name="Bob", email="bob@example.org")
    people.add_contact(party.op, ann, method="door", outcome=None, note=None, at=None, by=None)
    share_id = await trio.active(a, fields="all")
    await wait_until(lambda: len(a.received_people(party)) == 2, message="both arrive")
    await wait_until(lambda: a.count("contacts") == 1, message="contact arrives")

    # By hand, behind tagshare's back: Ann's copy goes, Bob's copy is damaged.
    lost = a.copy_of(party, ann)["uuid"]
    for table, column in (("taggings", "person"), ("contacts", "person"),
                          ("donations", "person"), ("people", "uuid")):
        a.execute(f"DELETE FROM {table} WHERE {column} = ?", (lost,))
    a.execute("UPDATE people SET first_name = 'Robert?' WHERE origin_uuid = ?", (bob,))
    assert a.copy_of(party, ann) is None

    result = await run_cli(a, "share", "resync", share_id)
    assert result.exit_code == 0, result.output
    back = await wait_until(lambda: a.copy_of(party, ann), message="Ann comes back")
    await wait_until(lambda: a.copy_of(party, bob)["first_name"] == "Bob", message="Bob repaired")
    await settled(party, share_id)
    assert back["email"] == "ann@example.org" and back["phone"] == "+16145550101"
    assert a.tags_of(back["uuid"]) == {f"{party.slug}:{TAG}"}
    assert a.count("contacts", "person = ?", (back["uuid"],)) == 1
    assert len(a.received_people(party)) == 2
    assert a.received(share_id, ann)["person"] == back["uuid"]


async def test_a_person_carrying_the_tag_twice_over_two_shares_arrives_once(trio: Trio) -> None:
    """Two shares from the same granter naming the same person: one copy, two memberships."""
    party, a = trio.party, trio.a
    ann = party.add_person(tags=(TAG, "donors"), first_name="Ann", email="ann@example.org")
    first = await trio.active(a, fields="name,email")
    second = await trio.active(a, tag="donors", fields="name,email")
    row = await wait_until(lambda: a.copy_of(party, ann), message="Ann arrives")
    await settled(party, second)
    assert a.tags_of(row["uuid"]) == {f"{party.slug}:{TAG}", f"{party.slug}:donors"}
    # Withdrawn from one share only: the copy stays for the other.
    people.remove_tags(party.op, ann, [TAG])
    await wait_until(lambda: a.received(first, ann)["state"] == "withdrawn")
    assert a.tags_of(row["uuid"]) == {f"{party.slug}:donors"}
    assert a.copy_of(party, ann)["first_name"] == "Ann"


async def test_an_item_outside_the_grant_is_refused_whole(trio: Trio) -> None:
    """A granter sending a phone on a name-only share: the batch is refused, nothing applied."""
    party, a = trio.party, trio.a
    share_id = await trio.active(a, fields="name")
    before = a.snapshot()
    batch = make_batch(party, share_id, 50, (
        Item(op="upsert", uuid="01890000-0000-7000-8000-000000000001", version=1,
             fields={"first_name": "Eve"}),
        Item(op="upsert", uuid="01890000-0000-7000-8000-000000000002", version=1,
             fields={"first_name": "Mal", "phone": "+16145550100"}),
    ))
    status, body = await post_inbox(a, sealed(party, a, batch))
    assert status == 400, body
    assert body["error"] == "malformed"
    assert a.snapshot() == before


async def test_an_erase_keeps_the_subscribers_own_records(trio: Trio) -> None:
    party, a = trio.party, trio.a
    share_id = await trio.active(a, fields="all")
    ann = party.add_person(first_name="Ann", email="ann@example.org")
    copy = (await wait_until(lambda: a.copy_of(party, ann), message="Ann arrives"))["uuid"]
    own = people.add_contact(a.op, copy, method="phone", outcome="supporter",
                             note="A's own call", at=None, by="a-vol")
    people.add_tags(a.op, copy, ["a-callback"])

    people.erase_person(party.op, ann)
    await wait_until(lambda: a.received(share_id, ann)["state"] == "erased", message="erased")
    assert a.count("tombstones") == 1
    for row in a.query("SELECT * FROM people WHERE origin_uuid = ?", (ann,)):
        assert (row["first_name"], row["email"]) == (None, None)  # nothing of the party's
    kept = a.query("SELECT * FROM contacts WHERE uuid = ?", (own,))
    assert len(kept) == 1 and kept[0]["origin"] is None
