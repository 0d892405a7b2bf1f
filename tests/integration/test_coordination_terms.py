"""Changing a share's terms live, and contacts flowing back to the origin person.

Real nodes (party, campaign A, campaign B) with their real servers and sync
workers; the operators act on second connections, as in another terminal.
"""

from __future__ import annotations

import pytest
from shares_helpers import TAG, Org, Trio, settled, wait_until

from tagshare.node import people, shares
from tagshare.node.errors import InvalidInput
from tagshare.node.peers import trust_peer
from tagshare.protocol.shares import columns_for


def _copy_value(org: Org, origin: Org, uuid: str, column: str) -> object:
    copy = org.copy_of(origin, uuid)
    return None if copy is None else copy[column]


async def test_widening_terms_flows_old_terms_until_accepted(trio: Trio) -> None:
    party, a = trio.party, trio.a
    ann = party.add_person(first_name="Ann", email="ann@example.org", phone="+1 614 555 0101")
    share_id = await trio.active(a, fields="name")
    assert _copy_value(a, party, ann, "email") is None

    shares.edit_share(party.op, share_id, fields="name,email", on_revoke=None)
    await wait_until(lambda: a.share(share_id)["proposed"] is not None, message="terms arrive")
    party.edit(ann, first_name="Annie")  # old terms keep flowing meanwhile
    await wait_until(lambda: _copy_value(a, party, ann, "first_name") == "Annie")
    assert _copy_value(a, party, ann, "email") is None
    assert all(set(item.fields or {}) <= set(columns_for(("name",)))
               for batch in party.batches() for item in batch.items)

    shares.accept_share(a.op, share_id, None)
    await wait_until(lambda: _copy_value(a, party, ann, "email") == "ann@example.org",
                     message="widened field arrives")
    assert _copy_value(a, party, ann, "phone") is None
    shown = shares.show_share(party.op, share_id)
    assert [t["version"] for t in shown["terms"]] == [1, 2]
    assert shown["terms_version"] == 2 and shown["pending_terms"] is None


async def test_narrowing_terms_deletes_dropped_fields_on_the_subscriber(trio: Trio) -> None:
    party, a = trio.party, trio.a
    ann = party.add_person(first_name="Ann", email="ann@example.org", phone="+1 614 555 0101")
    people.add_contact(party.op, ann, method="door", outcome="yes", note=None, at=None, by=None)
    share_id = await trio.active(a, fields="all")
    copy = a.copy_of(party, ann)
    assert copy is not None and copy["phone"] == "+16145550101"
    assert a.count("contacts", "origin = ?", (party.node_id,)) == 1

    shares.edit_share(party.op, share_id, fields="name", on_revoke="keep")
    await wait_until(lambda: a.share(share_id)["proposed"] is not None)
    shares.accept_share(a.op, share_id, None)
    await wait_until(lambda: party.share(share_id)["terms_version"] == 2)
    await settled(party, share_id)
    copy = a.copy_of(party, ann)
    assert copy is not None
    assert (copy["first_name"], copy["email"], copy["phone"]) == ("Ann", None, None)
    assert a.count("contacts", "origin = ?", (party.node_id,)) == 0
    assert a.share(share_id)["on_revoke"] == "keep"

    sent_before = len(party.batches())
    party.edit(ann, email="new@example.org", first_name="Anne")
    await wait_until(lambda: _copy_value(a, party, ann, "first_name") == "Anne")
    for batch in party.batches()[sent_before:]:
        assert batch.terms == 2
        for item in batch.items:
            assert set(item.fields or {}) <= {"first_name", "last_name"}
            assert item.contacts is None and item.donations is None
    assert _copy_value(a, party, ann, "email") is None


async def test_trusted_granter_terms_are_accepted_on_arrival(trio: Trio) -> None:
    party, a = trio.party, trio.a
    party.add_person(first_name="Ann", email="ann@example.org")
    share_id = await trio.active(a, fields="name")
    trust_peer(a.op, party.node_id)
    shares.edit_share(party.op, share_id, fields="name,email", on_revoke=None)
    await wait_until(lambda: party.share(share_id)["terms_version"] == 2,
                     message="auto-accepted terms")


async def test_edit_refuses_unchanged_terms_and_incoming_shares(trio: Trio) -> None:
    party, a = trio.party, trio.a
    share_id = await trio.active(a, fields="name")
    with pytest.raises(InvalidInput):
        shares.edit_share(party.op, share_id, fields="name", on_revoke=None)
    with pytest.raises(InvalidInput):
        shares.edit_share(a.op, share_id, fields="all", on_revoke=None)


async def test_campaign_contacts_flow_back_and_attach_to_the_party_person(trio: Trio) -> None:
    party, a = trio.party, trio.a
    ann = party.add_person(first_name="Ann", email="ann@example.org")
    party.add_person(first_name="Bob", email="bob@example.org")
    await trio.active(a, fields="name,email")
    local_tag = f"{party.slug}:{TAG}"
    copy = a.copy_of(party, ann)
    assert copy is not None

    back = shares.grant_share(a.op, tag=local_tag, peer=party.node_id, fields="contacts",
                              on_revoke="purge", note=None)["id"]
    await wait_until(lambda: party.status(back) == "offered")
    shares.accept_share(party.op, back, None)
    await settled(a, back)
    knock = people.add_contact(a.op, copy["uuid"], method="door", outcome="supporter",
                               note="wants a yard sign", at=None, by="Sam")
    await wait_until(lambda: party.count("contacts", "uuid = ?", (knock,)) == 1,
                     message="the knock reaches the party")
    row = party.query("SELECT person, origin FROM contacts WHERE uuid = ?", (knock,))[0]
    assert (row["person"], row["origin"]) == (ann, a.node_id)
    assert party.count("people") == 2  # attached, not copied
    for batch in a.batches():
        for item in batch.items:
            if item.op == "upsert":
                assert item.fields == {} and item.ref == (party.node_id, item.ref[1])

    party.edit(ann, first_name="Annie")  # the party's own data never comes back from A
    await wait_until(lambda: _copy_value(a, party, ann, "first_name") == "Annie")
    shares.revoke_share(a.op, back)  # on_revoke purge: A's records leave, the person stays
    await wait_until(lambda: party.count("contacts", "uuid = ?", (knock,)) == 0,
                     message="revoked: A's records leave the party's person")
    assert party.count("people", "uuid = ?", (ann,)) == 1
    assert party.query("SELECT first_name FROM people WHERE uuid = ?", (ann,))[0][0] == "Annie"
