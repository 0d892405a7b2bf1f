from __future__ import annotations

import pytest

from tagshare.protocol import (
    LocalProtocolError,
    MalformedMessage,
    TooLarge,
    b64u_decode,
    b64u_encode,
    canonical_json,
    parse_json,
)
from tagshare.protocol.encoding import MAX_MESSAGE_BYTES


def test_b64u_round_trip_and_exact_text() -> None:
    assert b64u_encode(b"") == ""
    assert b64u_encode(b"\xfb\xff") == "-_8"
    assert b64u_encode(bytes(range(5))) == "AAECAwQ"
    for n in range(40):
        data = bytes(range(n))
        assert b64u_decode(b64u_encode(data)) == data


@pytest.mark.parametrize(
    "text",
    [
        "AAECAwQ=",  # padding
        "AAEC+wQ",  # standard alphabet
        "AAEC/wQ",
        "AAE CAwQ",  # whitespace
        "A",  # impossible length
        "AAECAwR",  # non-zero trailing bits (non-canonical)
        "é",
    ],
)
def test_b64u_decode_rejects(text: str) -> None:
    with pytest.raises(MalformedMessage):
        b64u_decode(text)


def test_b64u_decode_rejects_non_str() -> None:
    with pytest.raises(MalformedMessage):
        b64u_decode(b"AAEC")  # type: ignore[arg-type]


def test_canonical_json_exact_bytes() -> None:
    value = {"b": [1, True, None, "é"], "a": {"z": -5, "y": ""}}
    assert canonical_json(value) == '{"a":{"y":"","z":-5},"b":[1,true,null,"é"]}'.encode()


@pytest.mark.parametrize(
    "value",
    [1.5, float("nan"), b"bytes", {1: "int key"}, {"a": {1, 2}}, 2**53, -(2**53), "\ud800"],
)
def test_canonical_json_rejects(value: object) -> None:
    with pytest.raises(LocalProtocolError):
        canonical_json(value)


def test_canonical_json_allows_safe_integer_bounds() -> None:
    assert canonical_json([2**53 - 1, -(2**53 - 1)]) == b"[9007199254740991,-9007199254740991]"


def test_parse_json_accepts_plain_json() -> None:
    assert parse_json(b' {"a": [1, "x", null, false]} ') == {"a": [1, "x", None, False]}


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe{}",  # not UTF-8
        b"\xef\xbb\xbf{}",  # BOM
        b"{",  # truncated
        b"",  # empty
        b'{"a": 1.0}',  # float
        b'{"a": 1e3}',  # exponent is a float too
        b'{"a": NaN}',
        b"[Infinity]",
        b'{"a": 1, "a": 2}',  # duplicate keys
        b'{"a": 9007199254740992}',  # outside the safe range
        b"[" + b"1" * 5000 + b"]",  # huge integer literal
        b'["\\ud800"]',  # lone surrogate
        b'{"\\udfff": 1}',
    ],
)
def test_parse_json_rejects(raw: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse_json(raw)


def test_parse_json_rejects_deep_nesting_without_recursion_error() -> None:
    with pytest.raises(MalformedMessage, match="nested"):
        parse_json(b"[" * 100_000)
    with pytest.raises(MalformedMessage, match="nested"):
        parse_json(b'{"a":' * 100_000)


def test_parse_json_depth_ignores_brackets_inside_strings() -> None:
    raw = b'["' + b"[" * 1000 + b'\\"[[["]'
    assert parse_json(raw) == ["[" * 1000 + '"[[[']
    assert isinstance(parse_json(b"[" * 32 + b"]" * 32, max_depth=32), list)
    with pytest.raises(MalformedMessage):
        parse_json(b"[" * 33 + b"]" * 33, max_depth=32)


def test_parse_json_too_large() -> None:
    with pytest.raises(TooLarge):
        parse_json(b" " * (MAX_MESSAGE_BYTES + 1))
    with pytest.raises(TooLarge):
        parse_json(b"[1, 2]", max_bytes=5)


def test_parse_json_wrong_input_type_is_our_bug() -> None:
    with pytest.raises(LocalProtocolError):
        parse_json("{}")  # type: ignore[arg-type]
