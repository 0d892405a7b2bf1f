"""Property tests: the receive path accepts nothing it should not, and every
parser raises only ProtocolError subclasses, whatever the input."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocol_helpers import ALICE_KEYS, BOB_KEYS, NOW, ConnectionPair, receive

from tagshare.protocol import (
    Ack,
    InviteToken,
    ProtocolError,
    b64u_encode,
    parse_document,
    parse_envelope,
    parse_pair_request,
    verify_document,
)

FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

PAIR = ConnectionPair()
VALID = PAIR.send(PAIR.alice, Ack(message_id=b64u_encode(bytes(16)), status="ok"))
assert receive(BOB_KEYS, ALICE_KEYS.box_public, VALID) is not None
VALID_FIELDS: dict[str, object] = json.loads(VALID)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)


def full_receive(raw: bytes) -> object:
    return receive(BOB_KEYS, ALICE_KEYS.box_public, raw, now=NOW)


def raises_only_protocol_errors(parse: Callable[[bytes], object], raw: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse(raw)


@FUZZ
@given(index=st.integers(0, len(VALID) - 1), byte=st.integers(0, 255))
def test_no_single_byte_mutation_is_accepted(index: int, byte: int) -> None:
    if VALID[index] == byte:
        byte = (byte + 1) % 256
    mutated = VALID[:index] + bytes([byte]) + VALID[index + 1 :]
    try:
        full_receive(mutated)
    except ProtocolError:
        return
    raise AssertionError(f"mutation at {index} to {byte!r} was accepted")


@FUZZ
@given(key=st.sampled_from(sorted(VALID_FIELDS)), value=json_values)
def test_no_field_replacement_is_accepted(key: str, value: object) -> None:
    if value == VALID_FIELDS[key] and type(value) is type(VALID_FIELDS[key]):
        return
    raw = json.dumps({**VALID_FIELDS, key: value}).encode()
    try:
        full_receive(raw)
    except ProtocolError:
        return
    raise AssertionError(f"replacing {key} with {value!r} was accepted")


@FUZZ
@given(key=st.sampled_from(sorted(VALID_FIELDS)), other=st.sampled_from(sorted(VALID_FIELDS)))
def test_no_field_swap_is_accepted(key: str, other: str) -> None:
    if VALID_FIELDS[key] == VALID_FIELDS[other]:
        return
    raw = json.dumps({**VALID_FIELDS, key: VALID_FIELDS[other]}).encode()
    try:
        full_receive(raw)
    except ProtocolError:
        return
    raise AssertionError(f"{key} = {other}'s value was accepted")


PARSERS: list[Callable[[bytes], object]] = [
    parse_envelope,
    parse_document,
    parse_pair_request,
    full_receive,
    lambda raw: InviteToken.decode(raw.decode("utf-8", "replace")),
    lambda raw: InviteToken.decode("tagshare1:" + b64u_encode(raw)),
]


@FUZZ
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_protocol_errors(raw: bytes) -> None:
    for parse in PARSERS:
        raises_only_protocol_errors(parse, raw)


@FUZZ
@given(value=json_values)
def test_arbitrary_json_raises_only_protocol_errors(value: object) -> None:
    raw = json.dumps(value).encode()
    for parse in PARSERS:
        raises_only_protocol_errors(parse, raw)


@FUZZ
@given(value=st.dictionaries(st.sampled_from(sorted(VALID_FIELDS)), json_values))
def test_envelope_shaped_objects_raise_only_protocol_errors(value: dict[str, object]) -> None:
    raw = json.dumps({**VALID_FIELDS, **value}).encode()
    for parse in PARSERS:
        raises_only_protocol_errors(parse, raw)
    pair_body = json.dumps({"document": value, "envelope": {**VALID_FIELDS, **value}}).encode()
    raises_only_protocol_errors(parse_pair_request, pair_body)


@FUZZ
@given(text=st.text(max_size=200))
def test_arbitrary_token_text_raises_only_bad_invite(text: str) -> None:
    for candidate in (text, "tagshare1:" + text):
        try:
            InviteToken.decode(candidate)
        except ProtocolError as exc:
            assert getattr(exc, "code", None) == "bad_invite"


DOC_FIELDS: dict[str, object] = PAIR.alice.document.to_dict()


@FUZZ
@given(key=st.sampled_from(sorted(DOC_FIELDS)), value=json_values)
def test_no_document_field_replacement_verifies(key: str, value: object) -> None:
    if value == DOC_FIELDS[key] and type(value) is type(DOC_FIELDS[key]):
        return
    raw = json.dumps({**DOC_FIELDS, key: value}).encode()
    try:
        verify_document(parse_document(raw), now=NOW)
    except ProtocolError:
        return
    raise AssertionError(f"document with {key}={value!r} verified")
