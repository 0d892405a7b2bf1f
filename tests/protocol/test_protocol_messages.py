from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import ClassVar, Self

import pytest
from protocol_helpers import ConnectionPair

from tagshare.protocol import (
    MESSAGE_TYPES,
    Ack,
    Item,
    LocalProtocolError,
    MalformedMessage,
    Message,
    PairAccept,
    PairRequest,
    Ping,
    message_from_dict,
    message_to_dict,
    register_message,
)

PAIR = ConnectionPair()
ID = "AAAAAAAAAAAAAAAAAAAAAA"
SECRET = "AgICAgICAgICAgICAgICAg"


def sample_messages() -> list[Message]:
    return [
        Ping(),
        Ack(message_id=ID, status="ok"),
        Ack(message_id=ID, status="error", detail={"error": "x", "nested": {"list": [1, None]}}),
        PairRequest(invite_id=ID, secret=SECRET, document=PAIR.bob.document),
        PairAccept(document=PAIR.alice.document),
    ]


@pytest.mark.parametrize("message", sample_messages(), ids=lambda m: m.TYPE)
def test_round_trip(message: Message) -> None:
    body = message_to_dict(message)
    assert message_from_dict(message.TYPE, body) == message


def test_registry_holds_the_base_types() -> None:
    assert {"ping", "ack", "pair.request", "pair.accept"} <= set(MESSAGE_TYPES)
    assert MESSAGE_TYPES["pair.request"] is PairRequest


def test_exact_bodies() -> None:
    assert message_to_dict(Ping()) == {}
    assert message_to_dict(Ack(message_id=ID, status="ok")) == {
        "message_id": ID,
        "status": "ok",
        "detail": {},
    }
    request = PairRequest(invite_id=ID, secret=SECRET, document=PAIR.bob.document)
    assert message_to_dict(request)["document"] == PAIR.bob.document.to_dict()


@pytest.mark.parametrize(
    ("type_", "body"),
    [
        ("nope", {}),
        ("ping", {"x": 1}),
        ("ping", []),
        ("ack", {"message_id": ID, "status": "ok"}),  # missing detail
        ("ack", {"message_id": ID, "status": "maybe", "detail": {}}),
        ("ack", {"message_id": "short", "status": "ok", "detail": {}}),
        ("ack", {"message_id": ID, "status": "ok", "detail": []}),
        ("ack", {"message_id": ID, "status": 1, "detail": {}}),
        ("ack", {"message_id": ID, "status": "ok", "detail": {}, "more": 1}),
        ("pair.request", {"invite_id": ID, "secret": SECRET}),
        ("pair.request", {"invite_id": ID, "secret": "AAAA", "document": {}}),
        ("pair.accept", {"document": {"node": "x"}}),
        ("pair.accept", {"document": None}),
    ],
)
def test_from_dict_rejects(type_: str, body: object) -> None:
    with pytest.raises(MalformedMessage):
        message_from_dict(type_, body)


def test_pair_request_from_dict_rejects_bad_secret() -> None:
    body = message_to_dict(PairRequest(invite_id=ID, secret=SECRET, document=PAIR.bob.document))
    with pytest.raises(MalformedMessage):
        message_from_dict("pair.request", {**body, "secret": SECRET + "A"})


def test_building_invalid_messages_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        Ack(message_id=ID, status="fine")
    with pytest.raises(LocalProtocolError):
        Ack(message_id=ID, status="ok", detail={"x": 1.5})
    with pytest.raises(LocalProtocolError):
        Ack(message_id=ID, status="ok", detail={1: "x"})  # type: ignore[dict-item]
    with pytest.raises(LocalProtocolError):
        PairAccept(document={"node": "x"})  # type: ignore[arg-type]


def test_adding_a_message_type_takes_a_few_lines() -> None:
    @dataclass(frozen=True)
    class Hello(Message):
        TYPE: ClassVar[str] = "test.hello"
        text: str

        def to_dict(self) -> dict[str, object]:
            return {"text": self.text}

        @classmethod
        def from_dict(cls, body: object) -> Self:
            if not isinstance(body, dict) or set(body) != {"text"}:
                raise MalformedMessage("bad hello")
            return cls(text=str(body["text"]))

    register_message(Hello)
    try:
        assert message_from_dict("test.hello", {"text": "hi"}) == Hello("hi")
        with pytest.raises(LocalProtocolError):
            register_message(Hello)  # registered twice
    finally:
        del MESSAGE_TYPES["test.hello"]
    with pytest.raises(LocalProtocolError):
        message_to_dict(Hello("unregistered now"))


def test_an_item_builds_its_wire_form_once_and_stays_equal_and_picklable() -> None:
    item = Item(op="upsert", uuid="0190a000-0000-7000-8000-000000000001", version=3,
                fields={"first_name": "Ann"}, contacts=(), donations=None)
    first = item.to_dict()
    assert item.to_dict() is first  # shared by every batch that carries the item
    assert first == {"op": "upsert", "uuid": item.uuid, "version": 3,
                     "fields": {"first_name": "Ann"}, "contacts": [], "donations": None,
                     "ref": None, "chain": None, "relayed": []}
    twin = Item(op="upsert", uuid=item.uuid, version=3, fields={"first_name": "Ann"},
                contacts=(), donations=None)
    assert item == twin and pickle.loads(pickle.dumps(item)) == item
    assert Item.from_dict(first) == item
