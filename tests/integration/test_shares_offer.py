"""Offer, accept (--as-tag), decline, peer trust / auto-accept, limited fields, list/status JSON.

Three real nodes (party, campaign A, campaign B), each a real aiohttp server
with the real sync worker; changes are made on a second connection or with
the CLI, as an operator in another terminal would.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from shares_helpers import (
    SHARE_KEYS,
    SYNC_KEYS,
    TAG,
    Trio,
    cli_json,
    run_cli,
    settled,
    wait_until,
)

from tagshare.node import people, shares
from tagshare.node.pairing import create_invite
from tagshare.protocol.shares import columns_for


async def test_offer_arrives_offered_and_accept_brings_people_tagged_peerslug_tag(
        trio: Trio) -> None:
    party, a = trio.party, trio.a
    ann = party.add_person(first_name="Ann", last_name="Lee", email="ann@example.org",
                           phone="+1 614 555 0101", city="Columbus")
    bob = party.add_person(first_name="Bob", email="bob@example.org")
    party.add_person(tags=("donors",), first_name="Not", last_name="Shared")

    share_id = party.grant(a, fields="all", on_revoke="keep")
    await wait_until(lambda: a.status(share_id) == "offered", message="offer on A")
    incoming = a.share(share_id)
    assert incoming is not None
    assert incoming["direction"] == "incoming"
    assert incoming["peer"] == party.node_id
    assert incoming["tag"] == TAG
    assert json.loads(incoming["fields"]) == ["name", "email", "phone", "address",
                                              "contacts", "donations"]
    assert incoming["on_revoke"] == "keep"
    assert party.status(share_id) == "offered"
    assert a.received_people(party) == {}
    assert party.pending(share_id) == 0  # nothing is owed before the accept

    shares.accept_share(a.op, share_id, None)
    await settled(party, share_id)
    assert party.share(share_id)["pull"] == 0  # A is reachable: pushed

    got = await wait_until(lambda: len(a.received_people(party)) == 2 and a.received_people(party))
    assert set(got) == {ann, bob}
    assert got[ann]["first_name"] == "Ann"
    assert got[ann]["phone"] == "+16145550101"
    assert got[ann]["city"] == "Columbus"
    local_tag = f"{party.slug}:{TAG}"
    assert local_tag == "ohio-party:volunteers"
    assert a.share(share_id)["local_tag"] == local_tag
    for row in got.values():
        assert a.tags_of(row["uuid"]) == {local_tag}
        received = a.received(share_id, row["origin_uuid"])
        assert received is not None and received["state"] == "member"
        assert received["person"] == row["uuid"]
    # B was paired too but was offered nothing.
    assert trio.b.count("shares") == 0
    assert trio.b.count("people") == 0


async def test_accept_as_tag_with_the_cli(trio: Trio) -> None:
    party, a = trio.party, trio.a
    ann = party.add_person(first_name="Ann", email="ann@example.org")
    share_id = await trio.offer(a)

    result = await run_cli(a, "share", "accept", share_id[:8], "--as-tag", "party-friends")
    assert result.exit_code == 0, result.output
    await settled(party, share_id)
    row = await wait_until(lambda: a.copy_of(party, ann))
    assert a.tags_of(row["uuid"]) == {"party-friends"}
    assert a.count("tags", "name = ?", (f"{party.slug}:{TAG}",)) == 0


async def test_decline_tells_the_granter_and_nothing_arrives(trio: Trio) -> None:
    party, b = trio.party, trio.b
    party.add_person(first_name="Ann", email="ann@example.org")
    share_id = await trio.offer(b)

    result = await run_cli(b, "share", "decline", share_id)
    assert result.exit_code == 0, result.output
    await wait_until(lambda: party.status(share_id) == "declined", message="declined on party")
    assert b.status(share_id) == "declined"
    # A later change to a tagged person owes the decliner nothing.
    party.add_person(first_name="Cy", email="cy@example.org")
    assert party.pending(share_id) == 0
    assert b.received_people(party) == {}
    assert b.count("people") == 0
    with pytest.raises(Exception, match="declined"):
        shares.accept_share(b.op, share_id, None)


async def test_peer_trust_activates_offers_without_a_manual_accept(trio: Trio) -> None:
    party, b = trio.party, trio.b
    result = await run_cli(b, "peer", "trust", party.name)
    assert result.exit_code == 0, result.output
    ann = party.add_person(first_name="Ann", email="ann@example.org")

    share_id = party.grant(b, fields="name,email")
    await settled(party, share_id)
    assert b.status(share_id) == "active"
    row = await wait_until(lambda: b.copy_of(party, ann))
    assert b.tags_of(row["uuid"]) == {f"{party.slug}:{TAG}"}


async def test_peer_add_auto_accept_activates_offers(trio: Trio) -> None:
    """Campaign B pairs with campaign A by `peer add TOKEN --auto-accept`; A's offer activates."""
    a, b = trio.a, trio.b
    token = create_invite(a.op, timedelta(hours=1), int(time.time()))
    result = await run_cli(b, "peer", "add", token.encode(), "--auto-accept", "--name", "camp-a")
    assert result.exit_code == 0, result.output
    await wait_until(lambda: a.count("peers", "node_id = ?", (b.node_id,)) == 1)
    carol = people.add_person(a.op, {"first_name": "Carol", "email": "carol@example.org"},
                              ["canvassers"])

    share_id = a.grant(b, tag="canvassers", fields="name")
    await settled(a, share_id)
    assert b.status(share_id) == "active"
    row = await wait_until(lambda: b.copy_of(a, carol))
    # The alias given at `peer add` names the peer: its slug prefixes the tag.
    assert b.tags_of(row["uuid"]) == {"camp-a:canvassers"}
    assert row["first_name"] == "Carol"
    assert row["email"] is None


async def test_limited_fields_never_leave_the_granter(trio: Trio) -> None:
    """B is granted name,email; every decrypted batch it was sent holds nothing else."""
    party, a, b = trio.party, trio.a, trio.b
    full_id = await trio.active(a, fields="all")
    limited_id = await trio.active(b, fields="name,email")

    uuids = []
    for i in range(3):
        uuid = party.add_person(first_name=f"P{i}", last_name="Doe",
                                email=f"p{i}@example.org", phone=f"+1 614 555 01{i:02d}",
                                address1=f"{i} Main St", city="Columbus", state="OH",
                                zip="43215")
        people.add_contact(party.op, uuid, method="door", outcome="home", note="secret note",
                           at=None, by="vol1")
        people.add_donation(party.op, uuid, amount="25.00", currency="USD", at=None)
        uuids.append(uuid)
    party.edit(uuids[0], phone="+1 614 555 0199", last_name="Doe-Ray")

    # A (all fields) gets everything, including the contact and donation history.
    def a_complete() -> bool:
        rows = a.received_people(party)
        return (len(rows) == 3 and rows[uuids[0]]["phone"] == "+16145550199"
                and a.count("donations", "origin = ?", (party.node_id,)) == 3
                and a.count("contacts", "origin = ?", (party.node_id,)) == 3)

    await wait_until(a_complete, message="A has all fields")
    await settled(party, full_id)

    # B (name,email) gets names and emails only.
    def b_complete() -> bool:
        rows = b.received_people(party)
        return len(rows) == 3 and rows[uuids[0]]["last_name"] == "Doe-Ray"

    await wait_until(b_complete, message="B has the edit")
    await settled(party, limited_id)
    for uuid, row in b.received_people(party).items():
        assert row["email"] == f"p{uuids.index(uuid)}@example.org"
        assert row["first_name"] == f"P{uuids.index(uuid)}"
        for column in ("phone", "address1", "address2", "city", "state", "zip"):
            assert row[column] is None, column
    assert b.count("contacts") == 0
    assert b.count("donations") == 0

    # What the party's worker actually sealed for B (decrypted payloads).
    allowed = set(columns_for(("name", "email")))
    to_b = [batch for batch in party.batches() if batch.share == limited_id]
    upserts = [item for batch in to_b for item in batch.items if item.op == "upsert"]
    assert len(upserts) >= 3
    for item in upserts:
        assert item.fields is not None and set(item.fields) <= allowed, item.fields
        assert item.contacts is None
        assert item.donations is None
    # ...while A's batches did carry the rest, so the recording is real.
    to_a = [item for batch in party.batches() if batch.share == full_id
            for item in batch.items if item.op == "upsert"]
    assert any(item.contacts and item.donations and item.fields and item.fields.get("phone")
               for item in to_a)


async def test_share_list_and_show_json_keys(trio: Trio) -> None:
    party, a = trio.party, trio.a
    party.add_person(first_name="Ann", email="ann@example.org")
    share_id = await trio.active(a, fields="name,email")

    for org, direction, peer in ((party, "outgoing", a), (a, "incoming", party)):
        listed = cli_json(await run_cli(org, "share", "list", "--json"))
        assert len(listed) == 1
        entry = listed[0]
        assert set(entry) >= SHARE_KEYS, entry
        assert set(entry["sync"]) >= SYNC_KEYS, entry["sync"]
        assert entry["id"] == share_id
        assert entry["direction"] == direction
        assert entry["peer"] == peer.node_id
        assert entry["tag"] == TAG
        assert entry["fields"] == ["name", "email"]
        assert entry["status"] == "active"
        only = cli_json(await run_cli(org, "share", "list", f"--{direction}", "--json"))
        assert [e["id"] for e in only] == [share_id]
        other = "incoming" if direction == "outgoing" else "outgoing"
        assert cli_json(await run_cli(org, "share", "list", f"--{other}", "--json")) == []
        shown = cli_json(await run_cli(org, "share", "show", share_id, "--json"))
        assert set(shown) >= SHARE_KEYS and set(shown["sync"]) >= SYNC_KEYS

    outgoing = cli_json(await run_cli(party, "share", "show", share_id, "--json"))
    assert outgoing["sync"]["pending"] == 0
    assert outgoing["sync"]["last_delivery_at"]
    assert outgoing["sync"]["last_error"] is None
    assert outgoing["sync"]["next_retry"] is None


async def test_status_json_has_each_shares_sync_state(trio: Trio) -> None:
    """`status --json` adds, per share, pending items, last delivery, last error, next retry."""
    party, a = trio.party, trio.a
    party.add_person(first_name="Ann", email="ann@example.org")
    share_id = await trio.active(a, fields="name")

    status = cli_json(await run_cli(party, "status", "--json"))
    assert status["people"] == 1
    entries = {entry["id"]: entry for entry in status["shares"]}
    entry = entries[share_id]
    assert entry["direction"] == "outgoing"
    assert entry["peer"] == a.node_id
    assert entry["status"] == "active"
    sync = entry.get("sync", entry)  # nested like `share list`, or flat
    assert set(sync) >= SYNC_KEYS
    assert sync["pending"] == 0
    assert sync["last_delivery_at"]
    assert sync["last_error"] is None


async def test_status_json_share_entries_have_the_share_list_keys(trio: Trio) -> None:
    party, a = trio.party, trio.a
    party.add_person(first_name="Ann", email="ann@example.org")
    share_id = await trio.active(a, fields="name")

    status = cli_json(await run_cli(party, "status", "--json"))
    entries = {entry["id"]: entry for entry in status["shares"]}
    entry = entries[share_id]
    assert set(entry) >= SHARE_KEYS, sorted(entry)
    assert set(entry["sync"]) >= SYNC_KEYS
    assert entry["fields"] == ["name"]
