"""Key rotation: a node's identity stays, its signing key moves on.

The node id is the node's first Ed25519 key and never changes. Each rotation
adds a link to the node's key chain: the new key and a time, signed by the
previous key (authority) and by the new key (possession). A verifier that
walks the chain from the node id arrives at the current key; only that key
signs documents and envelopes from then on, so a message signed with a
rotated-out key is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from tagshare.protocol import _fields as f
from tagshare.protocol.encoding import b64u_decode, b64u_encode, canonical_json
from tagshare.protocol.errors import BadSignature, LocalProtocolError, MalformedMessage
from tagshare.protocol.keys import (
    KEY_BYTES,
    SIGNATURE_BYTES,
    NodeKeys,
    is_node_id,
    verify_signature,
)

MAX_LINKS = 64
_LINK_KEYS = frozenset({"key", "created", "signature", "proof"})


@dataclass(frozen=True)
class KeyLink:
    """One rotation: ``key`` became the signing key at ``created``."""

    key: str
    created: int
    signature: str  # by the previous key
    proof: str  # by ``key`` itself

    def __post_init__(self) -> None:
        if not is_node_id(self.key):
            raise LocalProtocolError("key must be base64url of a 32-byte Ed25519 key")
        f.check_int(self.created, "created")
        f.check_b64(self.signature, SIGNATURE_BYTES, "signature")
        f.check_b64(self.proof, SIGNATURE_BYTES, "proof")

    def to_dict(self) -> dict[str, object]:
        return {"key": self.key, "created": self.created, "signature": self.signature,
                "proof": self.proof}

    @classmethod
    def from_dict(cls, data: object) -> KeyLink:
        obj = f.require_object(data, _LINK_KEYS, "key link")
        return f.build(lambda: cls(key=f.get_str(obj, "key"), created=f.get_int(obj, "created"),
                                   signature=f.get_str(obj, "signature"),
                                   proof=f.get_str(obj, "proof")))


def link_input(node_id: str, key: str, created: int) -> bytes:
    return canonical_json({"node": node_id, "key": key, "created": created})


def make_link(*, node_id: str, previous: NodeKeys, new: NodeKeys, created: int) -> KeyLink:
    """The link that hands signing from ``previous`` to ``new``."""
    data = link_input(node_id, new.signing_key_id, created)
    return KeyLink(key=new.signing_key_id, created=created,
                   signature=b64u_encode(previous.sign(data)), proof=b64u_encode(new.sign(data)))


def current_key(node_id: str, links: tuple[KeyLink, ...]) -> str:
    """Walk the chain from the node id; the current signing key, or BadSignature."""
    if len(links) > MAX_LINKS:
        raise MalformedMessage(f"a key chain holds at most {MAX_LINKS} links")
    key, last = node_id, -1
    for link in links:
        if link.created <= last:
            raise BadSignature("key chain is not in time order")
        data = link_input(node_id, link.key, link.created)
        verify_signature(key, data, b64u_decode(link.signature))
        verify_signature(link.key, data, b64u_decode(link.proof))
        key, last = link.key, link.created
    return key


def links_from(value: object) -> tuple[KeyLink, ...]:
    if not isinstance(value, list):
        raise MalformedMessage("keys must be a list of key links")
    if len(value) > MAX_LINKS:
        raise MalformedMessage(f"a key chain holds at most {MAX_LINKS} links")
    return tuple(KeyLink.from_dict(item) for item in value)


__all__ = ["KEY_BYTES", "KeyLink", "current_key", "link_input", "links_from", "make_link"]
