"""The fast codec paths (orjson encoding, strict binascii base64url, the canonical-only
parser for plaintexts) against the plain, slow definitions they replace."""

from __future__ import annotations

import base64
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagshare.protocol import MalformedMessage, b64u_decode, b64u_encode, canonical_json, parse_json
from tagshare.protocol.encoding import MAX_SAFE_INTEGER, parse_canonical_json

# Strings without lone surrogates (those are refused, tested separately).
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
SAFE_INT = st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
JSON = st.recursive(
    st.none() | st.booleans() | SAFE_INT | TEXT,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TEXT, inner, max_size=5),
    max_leaves=30,
)


def reference_canonical(value: object) -> bytes:
    """The definition in docs/protocol.md 1.2: Python's json.dumps, sorted, compact."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def reference_b64u_decode(text: str) -> bytes | None:
    """The definition in docs/protocol.md 1.1: the alphabet, and one text per byte string."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        return None
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    return data if b64u_encode(data) == text else None


@given(JSON)
def test_canonical_json_is_the_documented_form(value: object) -> None:
    assert canonical_json(value) == reference_canonical(value)


def test_canonical_json_escapes_as_documented() -> None:
    value = {"é": "\x00\x1f\x7f\"\\\b\f\n\r\t\u2028😀", "A": 1}
    assert canonical_json(value) == reference_canonical(value)
    assert canonical_json(value).startswith(b'{"A":1,"\xc3\xa9":"\\u0000\\u001f\x7f\\"\\\\')


@given(st.binary(max_size=64))
def test_b64u_round_trip(data: bytes) -> None:
    assert b64u_decode(b64u_encode(data)) == data


@given(st.text(alphabet="AQgw-_+/=Ab09 \n\té", max_size=12))
def test_b64u_decode_accepts_exactly_what_the_definition_accepts(text: str) -> None:
    expected = reference_b64u_decode(text)
    if expected is None:
        with pytest.raises(MalformedMessage):
            b64u_decode(text)
    else:
        assert b64u_decode(text) == expected


@given(JSON)
def test_parse_canonical_json_reads_what_canonical_json_writes(value: object) -> None:
    assert parse_canonical_json(canonical_json(value)) == value


@given(JSON)
def test_parse_canonical_json_refuses_any_other_form(value: object) -> None:
    pretty = json.dumps(value, sort_keys=True, ensure_ascii=True, indent=1).encode()
    if pretty == canonical_json(value):
        return  # scalars and empty containers have one form only
    with pytest.raises(MalformedMessage):
        parse_canonical_json(pretty)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"a":1,"a":2}', "duplicate key"),
        (b'{"b":1,"a":2}', "canonical form"),
        (b'{"a": 1}', "canonical form"),
        (b'["\\u00e9"]', "canonical form"),
        (b'{"a":1.0}', "floats"),
        (b'{"a":1e3}', "floats"),
        (b"[NaN]", "NaN"),
        (b"[9007199254740992]", "out of range"),
        (b"[" + b"1" * 30 + b"]", "out of range"),
        (b'["\\ud800"]', "surrogate"),
        (b"\xef\xbb\xbf[]", "UTF-8|invalid JSON"),
        (b"\xff[]", "UTF-8"),
        (b"[", "invalid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested|invalid JSON"),
    ],
)
def test_parse_canonical_json_refusals_name_the_fault(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        parse_canonical_json(raw)


def test_parse_json_depth_shortcut_still_refuses_deep_nesting() -> None:
    """Few brackets skip the depth scan; many still go through it."""
    assert parse_json(b"[" * 32 + b"]" * 32) is not None
    with pytest.raises(MalformedMessage, match="nested"):
        parse_json(b"[" * 33 + b"]" * 33)
