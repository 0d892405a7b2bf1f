"""Text that came from a peer, made safe to store and to log.

A peer's error message (and any error that quotes what a peer sent) ends up in
`last_error`, `tagshare status` and the log. A hostile peer answered with 2 MB of
text full of newlines: it filled the database and forged lines in the log. So
such text is cut to about MAX_PEER_TEXT characters and kept on one line, with
every control character (and every character that moves or reorders text on a
terminal) escaped, so that what an operator reads is what the peer sent.
"""

MAX_PEER_TEXT = 500

# C0 and C1 controls, DEL, line and paragraph separators, bidirectional overrides.
_UNSAFE = [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029,
           *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_ESCAPED = {code: ascii(chr(code))[1:-1] for code in _UNSAFE}


def peer_text(text: object, limit: int = MAX_PEER_TEXT) -> str:
    """`text` on one line, control characters escaped, at most about `limit` characters
    (with how many there were, when it was cut)."""
    whole = str(text)
    shown = whole[:limit].translate(_ESCAPED)[:limit]
    if len(whole) > limit:
        return f"{shown}... ({len(whole)} characters)"
    return shown
