"""A granter can touch only the records it sent (issue 11, item 3).

Three real nodes. The party (subscriber) holds its own volunteer with its own
contact and donation, and receives campaign B's volunteer with B's contact.
Campaign A, a granter of the party, turns hostile: with its real keys it seals
batches for its own share that name the uuid of the party's contact, of the
party's donation (on a decoy person, for $1), and of B's contact, then sends
empty lists, also on the party's own person (through a `ref`). Every one of
those records is unchanged afterwards; A's own records still land, as A's.
"""

from __future__ import annotations

from typing import Any

from shares_helpers import Org, Trio, make_batch, send_as, settled, wait_until

from tagshare.node import people, shares
from tagshare.node.ids import uuid7
from tagshare.protocol import Item

NOW = "2026-03-01T12:00:00Z"


async def subscribe(granter: Org, subscriber: Org) -> str:
    """`granter` grants its volunteers (all fields) and `subscriber` accepts."""
    share_id = granter.grant(subscriber, fields="all")
    await wait_until(lambda: subscriber.status(share_id) == "offered", message="offer arrives")
    shares.accept_share(subscriber.op, share_id, None)
    await settled(granter, share_id)
    return share_id


COLUMNS = {"contacts": "uuid, person, method, outcome, note, at, by, origin",
           "donations": "uuid, person, amount_cents, currency, at, origin"}


def records(org: Org, table: str, where: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Rows with `origin` last (records relayed up a chain also have a `via`)."""
    return [tuple(row) for row in org.query(
        f"SELECT {COLUMNS[table]} FROM {table} WHERE {where} ORDER BY origin, uuid", params)]


def contact(uuid: str, note: str) -> dict[str, Any]:
    return {"uuid": uuid, "method": "door", "outcome": "moved", "note": note, "at": NOW,
            "by": "A"}


def donation(uuid: str, cents: int) -> dict[str, Any]:
    return {"uuid": uuid, "amount_cents": cents, "currency": "USD", "at": NOW}


def upsert(uuid: str, version: int, *, contacts: list[dict[str, Any]],
           donations: list[dict[str, Any]], ref: tuple[str, str] | None = None,
           **fields: str) -> Item:
    return Item(op="upsert", uuid=uuid, version=version, fields={} if ref else fields,
                contacts=tuple(contacts), donations=tuple(donations), ref=ref)


async def test_a_hostile_granter_cannot_touch_records_it_did_not_send(trio: Trio) -> None:
    party, a, b = trio.orgs
    ours = party.add_person(tags=("walk",), first_name="Rosa", email="rosa@example.org")
    our_contact = people.add_contact(party.op, ours, method="door", outcome="home",
                                     note="ours", at=None, by="Sam")
    our_donation = people.add_donation(party.op, ours, amount="250.00", currency="USD", at=None)
    b_person = b.add_person(first_name="Tom", email="tom@example.org")
    b_contact = people.add_contact(b.op, b_person, method="phone", outcome="yes", note="b's",
                                   at=None, by="Bea")
    await subscribe(b, party)
    a_person = a.add_person(first_name="Ida", email="ida@example.org")
    a_share = await subscribe(a, party)
    await wait_until(lambda: party.copy_of(b, b_person) and party.copy_of(a, a_person),
                     message="both copies arrive")

    def protected() -> list[tuple[Any, ...]]:
        return (records(party, "contacts", "origin IS NULL OR origin = ?", (b.node_id,))
                + records(party, "donations", "origin IS NULL OR origin = ?", (b.node_id,)))

    before = protected()
    assert {row[0] for row in before} == {our_contact, our_donation, b_contact}

    decoy = uuid7()
    seq = int(a.share(a_share)["seq"]) + 1
    attacks = [
        # (a) the party's own contact, (b) its donation on a decoy for $1, (c) B's contact
        [upsert(a_person, 10**9, first_name="Ida", email="ida@example.org",
                contacts=[contact(our_contact, "forged"), contact(b_contact, "taken over")],
                donations=[]),
         upsert(decoy, 10**9, first_name="Decoy", contacts=[],
                donations=[donation(our_donation, 100)])],
        # then empty lists, on A's people and (by ref) on the party's own person
        [upsert(a_person, 10**9 + 1, first_name="Ida", email="ida@example.org", contacts=[],
                donations=[]),
         upsert(decoy, 10**9 + 1, first_name="Decoy", contacts=[], donations=[]),
         upsert(uuid7(), 10**9 + 1, ref=(party.node_id, ours), contacts=[], donations=[])],
    ]
    landed: list[list[tuple[Any, ...]]] = []
    for offset, items in enumerate(attacks):
        status, detail = await send_as(a, party, make_batch(a, a_share, seq + offset, items))
        assert status == 200 and detail["applied"] == len(items), detail
        assert protected() == before
        landed.append(records(party, "contacts", "origin = ?", (a.node_id,))
                      + records(party, "donations", "origin = ?", (a.node_id,)))

    # A's records landed as A's (on A's people), beside the ones they imitated ...
    decoy_copy = party.copy_of(a, decoy)
    ida_copy = party.copy_of(a, a_person)
    assert decoy_copy is not None and ida_copy is not None
    assert sorted((row[0], row[1], row[-1]) for row in landed[0]) == sorted([
        (our_contact, ida_copy["uuid"], a.node_id), (b_contact, ida_copy["uuid"], a.node_id),
        (our_donation, decoy_copy["uuid"], a.node_id)])
    # ... and the empty lists removed only them.
    assert landed[1] == []
    show = people.show_person(party.op, ours)
    assert [(c["uuid"], c["note"]) for c in show["contacts"]] == [(our_contact, "ours")]
    assert [(d["uuid"], d["amount_cents"]) for d in show["donations"]] == [(our_donation, 25000)]
    assert party.tags_of(ours) >= {"walk"}
    assert party.value("PRAGMA integrity_check") == "ok"
