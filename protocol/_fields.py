"""Typed readers for peer-supplied JSON objects.

Every ``from_dict`` uses these so that a wrong type, a missing key or an
extra key is always a ``MalformedMessage``, never a KeyError or TypeError.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from tagshare.protocol.encoding import MAX_SAFE_INTEGER, b64u_decode_exact
from tagshare.protocol.errors import LocalProtocolError, MalformedMessage, RemoteProtocolError

T = TypeVar("T")

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def require_object(value: object, keys: frozenset[str], what: str) -> dict[str, object]:
    """``value`` must be a JSON object with exactly ``keys``."""
    if type(value) is dict and value.keys() == keys:
        return value
    if not isinstance(value, dict):
        raise MalformedMessage(f"{what} must be a JSON object")
    present = set(value)
    missing = sorted(keys - present)
    if missing:
        raise MalformedMessage(f"{what} is missing {', '.join(missing)}")
    extra = sorted(str(key) for key in present - keys)
    if extra:
        raise MalformedMessage(f"{what} has unexpected {', '.join(extra)}")
    return value


def get_str(obj: dict[str, object], key: str) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise MalformedMessage(f"{key} must be a string")
    return value


def get_int(obj: dict[str, object], key: str) -> int:
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedMessage(f"{key} must be an integer")
    return value


def get_object(obj: dict[str, object], key: str) -> dict[str, object]:
    value = obj[key]
    if not isinstance(value, dict):
        raise MalformedMessage(f"{key} must be a JSON object")
    return value


def get_list(obj: dict[str, object], key: str) -> list[object]:
    value = obj[key]
    if not isinstance(value, list):
        raise MalformedMessage(f"{key} must be a list")
    return value


def build(factory: Callable[[], T], error: type[RemoteProtocolError] = MalformedMessage) -> T:
    """Run a dataclass constructor on peer data.

    ``__post_init__`` raises LocalProtocolError (building an invalid value is
    a bug when *we* do it); on the receiving side it is the peer's fault.
    """
    try:
        return factory()
    except LocalProtocolError as exc:
        raise error(str(exc)) from exc


# --- checks used by __post_init__ (raise LocalProtocolError) --------------


def check_str(value: object, what: str, *, min_len: int = 0, max_len: int = 10_000) -> str:
    if not isinstance(value, str):
        raise LocalProtocolError(f"{what} must be a str")
    if not min_len <= len(value) <= max_len:
        raise LocalProtocolError(f"{what} must be {min_len}..{max_len} characters")
    return value


def check_text(value: object, what: str, *, max_len: int) -> str:
    """Human text: 1..max_len characters, no control characters."""
    text = check_str(value, what, min_len=1, max_len=max_len)
    if _CONTROL_RE.search(text):
        raise LocalProtocolError(f"{what} must not contain control characters")
    return text


def check_int(value: object, what: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise LocalProtocolError(f"{what} must be an int")
    if not minimum <= value <= MAX_SAFE_INTEGER:
        raise LocalProtocolError(f"{what} must be in {minimum}..{MAX_SAFE_INTEGER}")
    return value


def check_b64(value: object, length: int, what: str) -> str:
    """``value`` must be base64url text of exactly ``length`` bytes."""
    if not isinstance(value, str):
        raise LocalProtocolError(f"{what} must be base64url text")
    try:
        b64u_decode_exact(value, length, what)
    except MalformedMessage as exc:
        raise LocalProtocolError(str(exc)) from exc
    return value
