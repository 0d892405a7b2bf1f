"""The two error families of the protocol, as in h11.

``LocalProtocolError`` means *we* tried to build something invalid: a bug in
the caller. ``RemoteProtocolError`` means the *peer* sent something invalid;
it carries a stable snake_case ``code`` that the node maps to an HTTP status
in one place (protocol/ knows nothing about HTTP).
"""

from __future__ import annotations

import re
from typing import ClassVar

_CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class ProtocolError(Exception):
    """Base class of every error raised by ``protocol``."""


class LocalProtocolError(ProtocolError):
    """We tried to build an invalid message (a bug on our side)."""


class RemoteProtocolError(ProtocolError):
    """The peer's input is invalid.

    ``code`` is a stable snake_case identifier (part of the wire protocol:
    it appears in error bodies); ``message`` is for humans and may change.
    Subclasses fix the code; the node may raise the base class with its own
    codes (for example ``unknown_peer``, ``replayed``, ``rate_limited``).
    """

    default_code: ClassVar[str] = "protocol_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = self.default_code if code is None else code
        if not _CODE_RE.match(self.code):
            raise LocalProtocolError(f"error code must be snake_case, got {self.code!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # Pickled with its code (an envelope opened in another process refuses as here).
        return (type(self), (self.message, self.code))


class MalformedMessage(RemoteProtocolError):
    """Not valid JSON, wrong shape, wrong field types, bad base64, ..."""

    default_code = "malformed"


class WrongRecipient(RemoteProtocolError):
    """The envelope is addressed to another node."""

    default_code = "wrong_recipient"


class BadSignature(RemoteProtocolError):
    """A signature does not verify, or an identity does not match."""

    default_code = "bad_signature"


class StaleMessage(RemoteProtocolError):
    """A timestamp is outside the accepted window (or a document expired)."""

    default_code = "stale_message"


class DecryptionFailed(RemoteProtocolError):
    """The ciphertext does not open with the expected keys."""

    default_code = "decryption_failed"


class UnsupportedVersion(RemoteProtocolError):
    """The envelope declares a protocol version we do not speak."""

    default_code = "unsupported_version"


class TooLarge(RemoteProtocolError):
    """The input exceeds the size limit."""

    default_code = "too_large"


class BadInvite(RemoteProtocolError):
    """An invite token is garbled or expired, or does not match what it claims."""

    default_code = "bad_invite"
