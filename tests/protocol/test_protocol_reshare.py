"""Signed grants, paths and item chains (protocol/reshare.py), as an attacker would try them."""

from __future__ import annotations

import dataclasses

import pytest
from protocol_helpers import ALICE_KEYS, BOB_KEYS, MALLORY_KEYS, signed_offer

from tagshare.protocol import Item, MalformedMessage, ShareOffer, ShareReach, b64u_encode
from tagshare.protocol.reshare import (
    Grant,
    Notice,
    NotPermitted,
    Provenance,
    check_path,
    grant_input,
    make_grant,
    make_notice,
    passed_on,
)

SHARE = "0190abcd-0000-7000-8000-000000000001"
SHARE2 = "0190abcd-0000-7000-8000-000000000002"
CAROL = "Q0FST0xDQVJPTENBUk9MQ0FST0xDQVJPTENBUk9MQ0E"


def _grant(keys=ALICE_KEYS, to=BOB_KEYS.node_id, share=SHARE, reshare="narrower",  # type: ignore[no-untyped-def]
           fields=("name", "email", "phone")) -> Grant:
    return make_grant(keys, (), subscriber=to, share=share, tag="volunteers", fields=fields,
                      on_revoke="purge", reshare=reshare)


def test_a_path_narrows_fields_and_permission() -> None:
    path = (_grant(), _grant(BOB_KEYS, CAROL, SHARE2, "none", ("name", "email", "address")))
    reach = check_path(path)
    assert (reach.origin, reach.via, reach.fields, reach.reshare, reach.on_revoke) == (
        ALICE_KEYS.node_id, (BOB_KEYS.node_id,), ("name", "email"), "none", "purge")
    assert passed_on("same") == "same" and passed_on("narrower") == "none"


def test_same_passes_same_on_and_narrower_stops_after_one_hop() -> None:
    same = (_grant(reshare="same"), _grant(BOB_KEYS, CAROL, SHARE2, "same"))
    assert check_path(same).reshare == "same"
    narrower = (_grant(reshare="narrower"), _grant(BOB_KEYS, CAROL, SHARE2, "same"))
    assert check_path(narrower).reshare == "none"  # Bob could not pass more than none on


@pytest.mark.parametrize("case", ["no permission", "forged", "stretched", "broken", "circle"])
def test_a_path_that_does_not_hold_is_refused(case: str) -> None:
    first, second = _grant(), _grant(BOB_KEYS, CAROL, SHARE2, "none")
    if case == "no permission":
        first = _grant(reshare="none")
    elif case == "forged":  # Mallory signs in Alice's name
        first = dataclasses.replace(first, signature=b64u_encode(
            MALLORY_KEYS.sign(grant_input(first.terms()))))
    elif case == "stretched":
        first = dataclasses.replace(first, reshare="same")
    elif case == "broken":
        second = _grant(MALLORY_KEYS, CAROL, SHARE2, "none")
    else:
        second = _grant(BOB_KEYS, ALICE_KEYS.node_id, SHARE2, "none")
    with pytest.raises(NotPermitted) as caught:
        check_path((first, second))
    assert caught.value.code == "forbidden"


@pytest.mark.parametrize("mutate", [
    lambda d: d.pop("keys"),
    lambda d: d.update(extra=1),
    lambda d: d.update(reshare="all"),
    lambda d: d.update(fields=["email", "name"]),
    lambda d: d.update(granter="not-a-node-id"),
    lambda d: d.update(signature="AAAA"),
    lambda d: d.update(keys={}),
])
def test_a_malformed_grant_is_malformed(mutate) -> None:  # type: ignore[no-untyped-def]
    data = _grant().to_dict()
    mutate(data)
    with pytest.raises(MalformedMessage):
        Grant.from_dict(data)


def test_an_offer_round_trips_with_its_grant_and_paths() -> None:
    upstream = ((_grant(ALICE_KEYS, BOB_KEYS.node_id, SHARE2),),)
    offer = signed_offer(share=SHARE, granter=BOB_KEYS, subscriber=CAROL, upstream=upstream)
    assert ShareOffer.from_dict(offer.to_dict()) == offer
    body = offer.to_dict()
    body["reshare"] = "same"  # the offer says more than the signed grant
    with pytest.raises(MalformedMessage):
        ShareOffer.from_dict(body)
    for bad in ({}, [[]], [{"not": "a path"}], "x", [[1]]):
        with pytest.raises(MalformedMessage):
            ShareOffer.from_dict({**offer.to_dict(), "upstream": bad})


@pytest.mark.parametrize("chain", [
    None, {"origin": ALICE_KEYS.node_id, "uuid": SHARE, "via": []},
    {"origin": ALICE_KEYS.node_id, "uuid": SHARE, "via": [ALICE_KEYS.node_id]},
    {"origin": ALICE_KEYS.node_id, "uuid": SHARE.upper(), "via": [BOB_KEYS.node_id]},
    {"origin": ALICE_KEYS.node_id, "uuid": SHARE, "via": [BOB_KEYS.node_id] * 2},
    {"origin": "x", "uuid": SHARE, "via": [BOB_KEYS.node_id]},
    {"origin": ALICE_KEYS.node_id, "uuid": SHARE, "via": BOB_KEYS.node_id},
    {"origin": ALICE_KEYS.node_id, "uuid": SHARE, "via": [BOB_KEYS.node_id], "more": 1},
    {"origin": ALICE_KEYS.node_id, "uuid": SHARE, "via": [BOB_KEYS.node_id] + [CAROL] * 8},
])
def test_a_malformed_chain_is_malformed(chain: object) -> None:
    good = Item(op="upsert", uuid=SHARE, version=1, fields={"email": "a@b.org"},
                chain=Provenance(ALICE_KEYS.node_id, SHARE, (BOB_KEYS.node_id,)))
    assert Item.from_dict(good.to_dict()) == good
    if chain is None:  # a chain and a ref together
        data = {**good.to_dict(), "ref": {"node": ALICE_KEYS.node_id, "uuid": SHARE}}
    else:
        data = {**good.to_dict(), "chain": chain}
    with pytest.raises(MalformedMessage):
        Item.from_dict(data)
    withdraw = {"op": "withdraw", "uuid": SHARE, "version": 2, "chain": good.to_dict()["chain"]}
    with pytest.raises(MalformedMessage):
        Item.from_dict(withdraw)


def _notice(signer=BOB_KEYS):  # type: ignore[no-untyped-def]
    path = (_grant(), _grant(BOB_KEYS, CAROL, SHARE2, "none", ("name",)))
    return make_notice(signer, (), path=path, people=12, status="active", at=NOW_SECONDS)


NOW_SECONDS = 1_700_000_000


def test_a_notice_round_trips_and_verifies() -> None:
    notice = _notice()
    assert Notice.from_dict(notice.to_dict()) == notice
    reach = notice.verify()
    assert (reach.origin, reach.via, reach.fields) == (ALICE_KEYS.node_id, (BOB_KEYS.node_id,),
                                                       ("name",))
    message = ShareReach(notice=notice)
    assert ShareReach.from_dict(message.to_dict()) == message


@pytest.mark.parametrize("case", ["another signer", "edited count", "edited path"])
def test_a_forged_notice_does_not_verify(case: str) -> None:
    notice = _notice(MALLORY_KEYS) if case == "another signer" else _notice()
    if case == "edited count":
        notice = dataclasses.replace(notice, people=999)
    elif case == "edited path":
        notice = dataclasses.replace(notice, path=(_grant(reshare="none"), notice.path[1]))
    with pytest.raises(NotPermitted):
        notice.verify()


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(people=-1),
    lambda d: d.update(people=True),
    lambda d: d.update(status="gone"),
    lambda d: d.update(path=d["path"][:1]),
    lambda d: d.update(path=d["path"] * 5),
    lambda d: d.update(at="now"),
    lambda d: d.pop("keys"),
    lambda d: d.update(extra=None),
    lambda d: d.update(signature="x" * 86),
])
def test_a_malformed_notice_is_malformed(mutate) -> None:  # type: ignore[no-untyped-def]
    data = _notice().to_dict()
    mutate(data)
    with pytest.raises(MalformedMessage):
        Notice.from_dict(data)


@pytest.mark.parametrize("relayed", [
    [{"node": CAROL, "contacts": [], "donations": None}],  # on an item without a ref
    "x",
    [{"node": "carol", "contacts": [], "donations": None}],
    [{"node": CAROL, "contacts": [], "donations": []}],  # donations not granted
    [{"node": CAROL, "contacts": [{"uuid": SHARE}], "donations": None}],
    [{"node": CAROL, "contacts": []}],
    [{"node": CAROL, "contacts": [], "donations": None}] * 2,
])
def test_malformed_relayed_records_are_malformed(relayed: object) -> None:
    ref = None if relayed == [{"node": CAROL, "contacts": [], "donations": None}] else {
        "node": ALICE_KEYS.node_id, "uuid": SHARE}
    data = {"op": "upsert", "uuid": SHARE, "version": 1, "fields": {}, "contacts": [],
            "donations": None, "ref": ref, "chain": None, "relayed": relayed}
    with pytest.raises(MalformedMessage):
        Item.from_dict(data)
    good = {**data, "ref": {"node": ALICE_KEYS.node_id, "uuid": SHARE},
            "relayed": [{"node": CAROL, "contacts": [], "donations": None}]}
    assert Item.from_dict(good).relayed[0].node == CAROL
