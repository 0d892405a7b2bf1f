"""Wire encodings: base64url without padding, canonical JSON, strict JSON parsing.

Everything signed is signed over ``canonical_json`` bytes: sorted keys, no
whitespace, UTF-8, no floats (the Matrix spec's canonical JSON, minus its
float handling). ``parse_json`` is the only way peer bytes become Python
objects, and it raises only ``ProtocolError`` subclasses, whatever the input.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from itertools import accumulate

import orjson

from tagshare.protocol.errors import LocalProtocolError, MalformedMessage, TooLarge

MAX_MESSAGE_BYTES = 8 * 1024 * 1024
PROTOCOL_VERSION = 1
CLOCK_WINDOW_SECONDS = 300

# Integers must survive a round trip through an IEEE double (JavaScript).
MAX_SAFE_INTEGER = 2**53 - 1

# Sorted keys, compact, UTF-8, integers limited to 53 bits: the canonical form.
_CANONICAL = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_TO_STANDARD_ALPHABET = bytes.maketrans(b"-_", b"+/")
_B64U_VALUE = {c: i for i, c in enumerate(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}
# A whole JSON string, matched possessively, so a string that never closes costs one
# pass and not one pass per quote after it (which made the scan quadratic); or else a
# quote that opens no complete string, with the rest of the text, whose brackets count.
_STRING_OR_REST_RE = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"|"(?P<rest>.*)\Z', re.DOTALL)
_NOT_BRACKET_RE = re.compile(r"[^\[\]{}]+")
_OPENS_AS_ONE = bytes.maketrans(b"[{]}", b"\x01\x01\x00\x00")
_DEPTH_STEP = (-1, 1)  # indexed by the byte above: a closing or an opening bracket
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Longest decimal integer we even try to convert (2**53 has 16 digits).
_MAX_INT_DIGITS = 20


def b64u_encode(data: bytes) -> str:
    """Base64url (RFC 4648 section 5) without ``=`` padding."""
    if not isinstance(data, bytes | bytearray):
        raise LocalProtocolError(f"b64u_encode needs bytes, got {type(data).__name__}")
    return base64.urlsafe_b64encode(bytes(data)).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """Strict inverse of ``b64u_encode``.

    Rejects padding, characters outside the url-safe alphabet, impossible
    lengths and non-canonical trailing bits, so every byte string has exactly
    one accepted text form.
    """
    if not isinstance(text, str):
        raise MalformedMessage(f"expected base64url text, got {type(text).__name__}")
    if len(text) % 4 == 1 or not text.isascii() or any(c in text for c in "+/="):
        raise MalformedMessage("invalid base64url (unpadded, url-safe alphabet expected)")
    padded = (text + "=" * (-len(text) % 4)).encode("ascii").translate(_TO_STANDARD_ALPHABET)
    try:  # strict mode refuses any character outside the alphabet, and inner padding
        data = binascii.a2b_base64(padded, strict_mode=True)
    except binascii.Error as exc:
        raise MalformedMessage("invalid base64url (unpadded, url-safe alphabet expected)") from exc
    if text and not _trailing_bits_zero(text):
        raise MalformedMessage("non-canonical base64url")
    return data


def _trailing_bits_zero(text: str) -> bool:
    """The bits of the last character that encode no byte are zero (2 or 3 chars in the
    last group leave 4 or 2 of its 6 bits unused)."""
    unused = {2: 0b1111, 3: 0b11}.get(len(text) % 4, 0)
    return _B64U_VALUE[text[-1]] & unused == 0


def b64u_decode_exact(text: str, length: int, what: str) -> bytes:
    """``b64u_decode`` that also requires the decoded length."""
    data = b64u_decode(text)
    if len(data) != length:
        raise MalformedMessage(f"{what} must encode {length} bytes, got {len(data)}")
    return data


def canonical_json(obj: object, *, checked: bool = False) -> bytes:
    """The one byte form of a JSON value that we sign and send.

    Allowed: dict with str keys, list, tuple (as a list), str, int within
    +-(2**53 - 1), bool, None. Anything else is our bug: LocalProtocolError.
    """
    if not checked:  # `checked`: built from message dataclasses that validated every value
        _check_canonical(obj)
    try:
        return orjson.dumps(obj, option=_CANONICAL)
    except orjson.JSONEncodeError as exc:  # a lone surrogate, or an unchecked bad value
        raise LocalProtocolError(f"not encodable as canonical JSON: {exc}") from None


def _check_canonical(obj: object) -> None:
    """Only JSON types, str keys, safe integers, bounded depth (iterative: batches are big).

    Strings need no check here: a lone surrogate fails the UTF-8 encoding.
    """
    stack: list[tuple[object, int]] = [(obj, 0)]
    while stack:
        value, depth = stack.pop()
        kind = type(value)
        if kind is dict:
            if depth >= 64:
                raise LocalProtocolError("value nested too deeply for canonical JSON")
            for key, item in value.items():  # type: ignore[attr-defined]
                if type(key) is not str:
                    raise LocalProtocolError(
                        f"object keys must be str, got {type(key).__name__}")
                if type(item) is not str and item is not None:
                    stack.append((item, depth + 1))
        elif kind is list or kind is tuple:
            if depth >= 64:
                raise LocalProtocolError("value nested too deeply for canonical JSON")
            stack.extend((item, depth + 1) for item in value  # type: ignore[attr-defined]
                         if type(item) is not str and item is not None)
        elif kind is int:
            if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:  # type: ignore[operator]
                raise LocalProtocolError(f"integer out of the safe range: {value}")
        elif not (kind is str or kind is bool or value is None):
            raise LocalProtocolError(f"{kind.__name__} is not allowed in canonical JSON")


def parse_json(
    raw: bytes, *, max_bytes: int = MAX_MESSAGE_BYTES, max_depth: int = 32,
    prescan: bool = True,
) -> object:
    """Parse peer bytes as strict JSON.

    Raises TooLarge over ``max_bytes``; MalformedMessage for non-UTF-8, a BOM,
    invalid JSON, floats, NaN/Infinity, integers outside +-(2**53 - 1),
    duplicate object keys, lone surrogates, or nesting deeper than
    ``max_depth`` (checked by a linear scan before parsing, so hostile
    nesting cannot exhaust the stack). Without ``prescan`` (for plaintext
    that the Box MAC already proved came from a peer) the depth is left to
    the parser, whose recursion limit is caught, and to the message schemas.
    """
    _check_input(raw, max_bytes, "parse_json")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedMessage("message is not valid UTF-8") from exc
    # Fewer brackets than the limit cannot nest deeper than it (brackets inside strings
    # count too, so this only ever sends more input to the scan, never less).
    if prescan and text.count("[") + text.count("{") > max_depth:
        _check_depth(text, max_depth)
    try:
        value: object = json.loads(
            text,
            object_pairs_hook=_reject_duplicate_keys,
            parse_float=_reject_float,
            parse_int=_parse_int,
            parse_constant=_reject_constant,
        )
    except MalformedMessage:
        raise
    except (ValueError, RecursionError) as exc:
        raise MalformedMessage(f"invalid JSON: {exc}") from exc
    # Strict UTF-8 never decodes to a surrogate, so only \u escapes can make one.
    if "\\u" in text:
        try:
            found = _has_surrogate(value)
        except RecursionError:
            raise MalformedMessage("JSON nested too deeply") from None
        if found:
            raise MalformedMessage("JSON contains a lone surrogate")
    return value


def parse_canonical_json(raw: bytes, *, max_bytes: int = MAX_MESSAGE_BYTES) -> object:
    """Parse bytes that must be exactly ``canonical_json`` of their value (an envelope's
    plaintext). Accepts and refuses the same input as ``parse_json``, and also refuses
    any other byte form of a valid value (whitespace, key order, escapes).

    The fast way: the C parser (floats refused as it meets them), then one canonical
    re-encoding compared with the input, which also catches duplicate keys, lone
    surrogates and unsafe integers. Only bytes that fail get the slow, precise
    ``parse_json``, for its error message.
    """
    _check_input(raw, max_bytes, "parse_canonical_json")
    try:
        value: object = json.loads(bytes(raw).decode("utf-8"), parse_float=_reject_float,
                                   parse_constant=_reject_constant)
        canonical = orjson.dumps(value, option=_CANONICAL) == raw
    except MalformedMessage:
        raise
    except (ValueError, RecursionError, orjson.JSONEncodeError):
        canonical = False
    if not canonical:
        parse_json(raw, max_bytes=max_bytes, prescan=False)  # raises with the precise fault
        raise MalformedMessage("JSON is not in canonical form")
    return value


def _check_input(raw: object, max_bytes: int, caller: str) -> None:
    """Peer bytes, and not too many of them (a str here is our bug, not the peer's)."""
    if not isinstance(raw, bytes | bytearray):
        raise LocalProtocolError(f"{caller} needs bytes, got {type(raw).__name__}")
    if len(raw) > max_bytes:
        raise TooLarge(f"message is {len(raw)} bytes, the limit is {max_bytes}")


def _check_depth(text: str, max_depth: int) -> None:
    """MalformedMessage if brackets outside strings nest deeper than ``max_depth``.

    Linear in the text and run by the regex engine and C builtins (no Python loop per
    character): drop the strings, keep the brackets, take the deepest running depth.
    """
    outside_strings = _STRING_OR_REST_RE.sub(r"\g<rest>", text)
    brackets = _NOT_BRACKET_RE.sub("", outside_strings).encode("ascii")
    steps = map(_DEPTH_STEP.__getitem__, brackets.translate(_OPENS_AS_ONE))
    if max(accumulate(steps), default=0) > max_depth:
        raise MalformedMessage(f"JSON nested deeper than {max_depth} levels")


def _has_surrogate(value: object) -> bool:
    # Only reached for already depth-checked values, so recursion is bounded.
    if isinstance(value, str):
        return _SURROGATE_RE.search(value) is not None
    if isinstance(value, list):
        return any(_has_surrogate(item) for item in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    return False


def _reject_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedMessage(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_float(text: str) -> object:
    raise MalformedMessage("floats are not allowed")


def _reject_constant(text: str) -> object:
    raise MalformedMessage(f"{text} is not allowed")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise MalformedMessage("integer out of range")
    value = int(text)
    if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise MalformedMessage("integer out of range")
    return value
