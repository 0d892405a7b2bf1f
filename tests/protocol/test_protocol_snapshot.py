"""Snapshot chunks (protocol/snapshot.py): a batch's plain upserts, column-oriented, go
through seal and open intact, and every malformed or oversized chunk a peer could send
is refused at the edge as MalformedMessage, exactly as strictly as an item."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
from protocol_helpers import ConnectionPair

from tagshare.protocol import (
    BadSignature,
    LocalProtocolError,
    MalformedMessage,
    NodeDocument,
    sign_document,
    verify_document_signature,
)
from tagshare.protocol.encoding import b64u_encode
from tagshare.protocol.items import Item
from tagshare.protocol.keys import NodeKeys
from tagshare.protocol.shares import ShareBatch
from tagshare.protocol.snapshot import (
    MAX_CHUNK_PEOPLE,
    MAX_CHUNK_RECORDS,
    SNAPSHOT_CAPABILITY,
    Snapshot,
)

SHARE = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
EPOCH = b64u_encode(bytes(16))
ANN = "0190a1b2-c3d4-7e5f-8a9b-000000000001"
BO = "0190a1b2-c3d4-7e5f-8a9b-000000000002"
CY = "0190a1b2-c3d4-7e5f-8a9b-000000000003"
DOOR = "0190a1b2-c3d4-7e5f-8a9b-00000000000d"
GIFT = "0190a1b2-c3d4-7e5f-8a9b-00000000000e"
AT = "2026-10-03T14:30:00.000Z"


def chunk() -> Snapshot:
    return Snapshot(
        columns=("first_name", "last_name", "email"),
        rows=((ANN, 3, "Ann", "Lee", "ann@example.org"), (BO, 1, "Bo", None, None)),
        contacts=((ANN, DOOR, "door", "not home", None, AT, "Sam"),),
        donations=((BO, GIFT, 2500, "USD", AT),))


def batch(snapshot: Snapshot | None = None, items: tuple[Item, ...] = ()) -> ShareBatch:
    return ShareBatch(share=SHARE, epoch=EPOCH, seq=4, terms=1, items=items,
                      snapshot=snapshot or chunk())


def wire() -> dict[str, object]:
    return batch().to_dict()


def test_a_chunk_goes_through_seal_and_open_intact() -> None:
    pair = ConnectionPair()
    sent = batch(items=(Item(op="erase", uuid=CY, version=7),))
    received = pair.receive(pair.bob, pair.send(pair.alice, sent))
    assert received == sent
    assert isinstance(received, ShareBatch) and received.uuids() == [CY, ANN, BO]


def test_the_wire_form_is_column_oriented() -> None:
    body = wire()["snapshot"]
    assert body == {
        "columns": ["uuid", "version", "first_name", "last_name", "email"],
        "rows": [[ANN, 3, "Ann", "Lee", "ann@example.org"], [BO, 1, "Bo", None, None]],
        "contacts": {"columns": ["person", "uuid", "method", "outcome", "note", "at", "by"],
                     "rows": [[ANN, DOOR, "door", "not home", None, AT, "Sam"]]},
        "donations": {"columns": ["person", "uuid", "amount_cents", "currency", "at"],
                      "rows": [[BO, GIFT, 2500, "USD", AT]]}}


def test_records_come_back_per_person_as_an_item_carries_them() -> None:
    records = chunk().records("contacts")
    assert records == {ANN: [{"uuid": DOOR, "method": "door", "outcome": "not home",
                              "note": None, "at": AT, "by": "Sam"}], BO: []}
    assert replace(chunk(), contacts=None).records("contacts") is None


def test_a_batch_without_a_snapshot_keeps_its_old_form() -> None:
    plain = ShareBatch(share=SHARE, epoch=EPOCH, seq=1, terms=1, items=())
    assert "snapshot" not in plain.to_dict()
    assert ShareBatch.from_dict(plain.to_dict()) == plain


def _set(path: tuple[object, ...], value: object) -> dict[str, object]:
    body = copy.deepcopy(wire())
    target: object = body
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    return body


BAD = {
    "not an object": (("snapshot",), [1, 2]),
    "extra key": (("snapshot",), {**wire()["snapshot"], "more": 1}),  # type: ignore[dict-item]
    "key columns missing": (("snapshot", "columns"), ["first_name", "last_name", "email"]),
    "unknown column": (("snapshot", "columns"), ["uuid", "version", "first_name", "ssn", "email"]),
    "duplicate column": (("snapshot", "columns"),
                         ["uuid", "version", "first_name", "first_name", "email"]),
    "columns out of order": (("snapshot", "columns"),
                             ["uuid", "version", "last_name", "first_name", "email"]),
    "no rows": (("snapshot", "rows"), []),
    "row not a list": (("snapshot", "rows", 0), {"uuid": ANN}),
    "row too short": (("snapshot", "rows", 0), [ANN, 3, "Ann", "Lee"]),
    "row too long": (("snapshot", "rows", 0), [ANN, 3, "Ann", "Lee", "a@b.c", "x"]),
    "uppercase uuid": (("snapshot", "rows", 0, 0), ANN.upper()),
    "uuid with a newline": (("snapshot", "rows", 0, 0), ANN + "\n"),
    "version as text": (("snapshot", "rows", 0, 1), "3"),
    "version as bool": (("snapshot", "rows", 0, 1), True),
    "version zero": (("snapshot", "rows", 0, 1), 0),
    "version beyond safe": (("snapshot", "rows", 0, 1), 2**60),
    "value a number": (("snapshot", "rows", 0, 2), 7),
    "value a list": (("snapshot", "rows", 0, 2), ["Ann"]),
    "value too long": (("snapshot", "rows", 0, 2), "A" * 2001),
    "person twice": (("snapshot", "rows", 1, 0), ANN),
    "contact columns changed": (("snapshot", "contacts", "columns"),
                                ["person", "uuid", "method", "outcome", "note", "at"]),
    "contact of a stranger": (("snapshot", "contacts", "rows", 0, 0), CY),
    "contact person a list": (("snapshot", "contacts", "rows", 0, 0), [ANN]),
    "contact bad time": (("snapshot", "contacts", "rows", 0, 5), "yesterday"),
    "contact method empty": (("snapshot", "contacts", "rows", 0, 2), ""),
    "contact note too long": (("snapshot", "contacts", "rows", 0, 4), "n" * 2001),
    "contact short row": (("snapshot", "contacts", "rows", 0), [ANN, DOOR, "door"]),
    "donation amount zero": (("snapshot", "donations", "rows", 0, 2), 0),
    "donation amount text": (("snapshot", "donations", "rows", 0, 2), "25.00"),
    "donation currency": (("snapshot", "donations", "rows", 0, 3), "DOLLARS"),
    "donation uuid": (("snapshot", "donations", "rows", 0, 1), "gift"),
}


@pytest.mark.parametrize("path,value", BAD.values(), ids=list(BAD))
def test_a_malformed_chunk_is_refused(path: tuple[object, ...], value: object) -> None:
    with pytest.raises(MalformedMessage):
        ShareBatch.from_dict(_set(path, value))


def test_a_record_uuid_twice_is_refused() -> None:
    body = _set(("snapshot", "contacts", "rows"),
                [[ANN, DOOR, "door", None, None, AT, None],
                 [BO, DOOR, "call", None, None, AT, None]])
    with pytest.raises(MalformedMessage, match="twice"):
        ShareBatch.from_dict(body)


def test_a_person_in_both_the_items_and_the_snapshot_is_refused() -> None:
    body = _set(("items",), [Item(op="withdraw", uuid=ANN, version=9).to_dict()])
    with pytest.raises(MalformedMessage, match="both"):
        ShareBatch.from_dict(body)


def _many_rows(count: int) -> list[list[object]]:
    return [[f"0190a1b2-c3d4-7e5f-8a9b-{i:012x}", 1, None, None, None] for i in range(count)]


def test_an_oversized_chunk_is_refused_before_its_rows_are_read() -> None:
    with pytest.raises(MalformedMessage, match=f"at most {MAX_CHUNK_PEOPLE}"):
        ShareBatch.from_dict(_set(("snapshot", "rows"), [7] * (MAX_CHUNK_PEOPLE + 1)))
    too_many = [[ANN, f"0190a1b2-c3d4-7e5f-8a9b-{i:012x}", 2500, "USD", AT]
                for i in range(MAX_CHUNK_RECORDS + 1)]
    with pytest.raises(MalformedMessage, match=f"at most {MAX_CHUNK_RECORDS}"):
        ShareBatch.from_dict(_set(("snapshot", "donations", "rows"), too_many))


def test_a_full_chunk_is_taken() -> None:
    body = _set(("snapshot", "rows"), _many_rows(MAX_CHUNK_PEOPLE))
    body["snapshot"]["contacts"] = body["snapshot"]["donations"] = None  # type: ignore[index]
    assert len(ShareBatch.from_dict(body).uuids()) == MAX_CHUNK_PEOPLE


def test_too_many_records_of_one_person_are_refused() -> None:
    rows = [[ANN, f"0190a1b2-c3d4-7e5f-8a9b-{i:012x}", 100, "USD", AT] for i in range(10_001)]
    with pytest.raises(MalformedMessage, match="at most 10000 donations"):
        ShareBatch.from_dict(_set(("snapshot", "donations", "rows"), rows))


def test_building_a_bad_chunk_is_our_bug() -> None:
    with pytest.raises(LocalProtocolError):
        replace(chunk(), rows=((ANN, 1, "Ann", None),))
    with pytest.raises(LocalProtocolError):
        batch(items=(Item(op="erase", uuid=BO, version=2),))


# -- the capability in the node document ---------------------------------------------

KEYS = NodeKeys(signing_seed=bytes(range(32)), box_secret=bytes([7]) * 32)


def document(capabilities: tuple[str, ...]) -> NodeDocument:
    return sign_document(KEYS, name="Alice", url="https://alice.example", created=1,
                         valid_until=2, capabilities=capabilities)


def test_the_capability_is_signed_and_round_trips() -> None:
    signed = document((SNAPSHOT_CAPABILITY,))
    data = signed.to_dict()
    assert data["capabilities"] == ["share.snapshot"]
    assert NodeDocument.from_dict(data) == signed
    assert "capabilities" not in document(()).to_dict()


def test_a_capability_added_by_someone_else_breaks_the_signature() -> None:
    data = document(()).to_dict()
    data["capabilities"] = [SNAPSHOT_CAPABILITY]
    with pytest.raises(BadSignature):
        verify_document_signature(NodeDocument.from_dict(data))


@pytest.mark.parametrize("value", [[], "share.snapshot", [7], ["Share"], ["b", "a"],
                                   ["a", "a"], ["x" * 41], [f"c{i}" for i in range(17)]])
def test_malformed_capabilities_are_refused(value: object) -> None:
    data = document(()).to_dict()
    data["capabilities"] = value
    with pytest.raises(MalformedMessage):
        NodeDocument.from_dict(data)


def test_an_unknown_capability_is_kept() -> None:
    assert NodeDocument.from_dict(document(("later.thing",)).to_dict()).capabilities == (
        "later.thing",)
