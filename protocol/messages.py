"""Message bodies carried inside envelopes, and the type registry.

Each message type is a frozen dataclass with a ``TYPE`` string, validated in
``__post_init__``, with ``to_dict`` / ``from_dict``. Adding a type takes a
class decorated with ``@register_message``; ``from_dict`` must reject wrong
types, missing keys and extra keys with MalformedMessage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar, Self, TypeVar

from tagshare.protocol import _fields as f
from tagshare.protocol.document import NodeDocument
from tagshare.protocol.encoding import canonical_json
from tagshare.protocol.errors import LocalProtocolError, MalformedMessage

ID_BYTES = 16
SECRET_BYTES = 16

_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


@dataclass(frozen=True)
class Message:
    """Base of every message body."""

    TYPE: ClassVar[str] = ""

    def to_dict(self) -> dict[str, object]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, body: object) -> Self:
        raise NotImplementedError


MessageT = TypeVar("MessageT", bound=type[Message])

MESSAGE_TYPES: dict[str, type[Message]] = {}


def register_message(cls: MessageT) -> MessageT:
    """Class decorator: make ``cls`` known to ``message_from_dict``."""
    if not _TYPE_RE.match(cls.TYPE) or len(cls.TYPE) > 64:
        raise LocalProtocolError(f"bad message TYPE {cls.TYPE!r}")
    if cls.TYPE in MESSAGE_TYPES:
        raise LocalProtocolError(f"message type {cls.TYPE!r} registered twice")
    MESSAGE_TYPES[cls.TYPE] = cls
    return cls


def is_message_type(text: object) -> bool:
    """Syntax of a type string: dotted lowercase words, at most 64 chars."""
    return isinstance(text, str) and len(text) <= 64 and _TYPE_RE.match(text) is not None


def message_from_dict(type: str, body: object) -> Message:
    """Peer body -> Message; MalformedMessage for an unknown type or bad body."""
    cls = MESSAGE_TYPES.get(type) if isinstance(type, str) else None
    if cls is None:
        raise MalformedMessage(f"unknown message type {type!r}")
    return cls.from_dict(body)


def message_to_dict(msg: Message) -> dict[str, object]:
    if not isinstance(msg, Message) or MESSAGE_TYPES.get(msg.TYPE) is not type(msg):
        raise LocalProtocolError(f"{type(msg).__name__} is not a registered message")
    return msg.to_dict()


@register_message
@dataclass(frozen=True)
class Ping(Message):
    """Empty message, used to test a peer's inbox end to end."""

    TYPE: ClassVar[str] = "ping"

    def to_dict(self) -> dict[str, object]:
        return {}

    @classmethod
    def from_dict(cls, body: object) -> Self:
        f.require_object(body, frozenset(), "ping body")
        return cls()


@register_message
@dataclass(frozen=True)
class PeerRemove(Message):
    """The sender removed the receiver as a peer: the receiver marks the sender removed
    too (docs/protocol.md, 5 and 9.8). Empty body."""

    TYPE: ClassVar[str] = "peer.remove"

    def to_dict(self) -> dict[str, object]:
        return {}

    @classmethod
    def from_dict(cls, body: object) -> Self:
        f.require_object(body, frozenset(), "peer.remove body")
        return cls()


ACK_STATUSES = frozenset({"ok", "error"})


@register_message
@dataclass(frozen=True)
class Ack(Message):
    """The reply to an envelope: ``message_id`` is that envelope's id."""

    TYPE: ClassVar[str] = "ack"
    message_id: str
    status: str
    detail: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        f.check_b64(self.message_id, ID_BYTES, "message_id")
        if self.status not in ACK_STATUSES:
            raise LocalProtocolError("status must be 'ok' or 'error'")
        if not isinstance(self.detail, dict):
            raise LocalProtocolError("detail must be a dict")
        canonical_json(self.detail)  # str keys and JSON values only

    def to_dict(self) -> dict[str, object]:
        return {"message_id": self.message_id, "status": self.status, "detail": self.detail}

    @classmethod
    def from_dict(cls, body: object) -> Self:
        obj = f.require_object(body, frozenset({"message_id", "status", "detail"}), "ack body")
        return f.build(
            lambda: cls(
                message_id=f.get_str(obj, "message_id"),
                status=f.get_str(obj, "status"),
                detail=f.get_object(obj, "detail"),
            )
        )


@register_message
@dataclass(frozen=True)
class PairRequest(Message):
    """Joiner -> inviter: proves knowledge of the invite secret."""

    TYPE: ClassVar[str] = "pair.request"
    invite_id: str
    secret: str
    document: NodeDocument

    def __post_init__(self) -> None:
        f.check_b64(self.invite_id, ID_BYTES, "invite_id")
        f.check_b64(self.secret, SECRET_BYTES, "secret")
        if not isinstance(self.document, NodeDocument):
            raise LocalProtocolError("document must be a NodeDocument")

    def to_dict(self) -> dict[str, object]:
        return {
            "invite_id": self.invite_id,
            "secret": self.secret,
            "document": self.document.to_dict(),
        }

    @classmethod
    def from_dict(cls, body: object) -> Self:
        obj = f.require_object(
            body, frozenset({"invite_id", "secret", "document"}), "pair.request body"
        )
        document = NodeDocument.from_dict(obj["document"])
        return f.build(
            lambda: cls(
                invite_id=f.get_str(obj, "invite_id"),
                secret=f.get_str(obj, "secret"),
                document=document,
            )
        )


@register_message
@dataclass(frozen=True)
class PairAccept(Message):
    """Inviter -> joiner: the inviter's signed document."""

    TYPE: ClassVar[str] = "pair.accept"
    document: NodeDocument

    def __post_init__(self) -> None:
        if not isinstance(self.document, NodeDocument):
            raise LocalProtocolError("document must be a NodeDocument")

    def to_dict(self) -> dict[str, object]:
        return {"document": self.document.to_dict()}

    @classmethod
    def from_dict(cls, body: object) -> Self:
        obj = f.require_object(body, frozenset({"document"}), "pair.accept body")
        return cls(document=NodeDocument.from_dict(obj["document"]))


@register_message
@dataclass(frozen=True)
class KeyRotate(Message):
    """A node rotated its keys: its new document, whose key chain ends in the new signing
    key. Sent in an envelope signed (and encrypted) with the old keys."""

    TYPE: ClassVar[str] = "key.rotate"
    document: NodeDocument

    def __post_init__(self) -> None:
        if not isinstance(self.document, NodeDocument) or not self.document.keys:
            raise LocalProtocolError("key.rotate carries a document with a key chain")

    def to_dict(self) -> dict[str, object]:
        return {"document": self.document.to_dict()}

    @classmethod
    def from_dict(cls, body: object) -> Self:
        obj = f.require_object(body, frozenset({"document"}), "key.rotate body")
        document = NodeDocument.from_dict(obj["document"])
        return f.build(lambda: cls(document=document))


def check_rotation(message: KeyRotate, *, sender: str, known_key: str) -> str:
    """A peer's key.rotate: the document is the sender's, its chain verifies and moves on
    from the key we know. Returns the new signing key; BadSignature otherwise."""
    from tagshare.protocol.document import verify_document_signature
    from tagshare.protocol.errors import BadSignature
    from tagshare.protocol.rotation import current_key

    document = message.document
    if document.node_id != sender:
        raise BadSignature("the rotated document belongs to another node")
    verify_document_signature(document)
    chain = [sender, *(link.key for link in document.keys)]
    if known_key not in chain[:-1]:
        raise BadSignature("the key chain does not continue from the key we know")
    return current_key(sender, document.keys)
