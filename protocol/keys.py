"""Node keys, node ids and fingerprints.

A node has two key pairs: Ed25519 for signatures and X25519 for NaCl Box
encryption. The node id *is* the Ed25519 public key (base64url, 43
characters), so a signature can be checked without any lookup.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field

import nacl.exceptions
import nacl.public
import nacl.signing

from tagshare.protocol.encoding import b64u_decode, b64u_encode
from tagshare.protocol.errors import BadSignature, LocalProtocolError, MalformedMessage

KEY_BYTES = 32
SIGNATURE_BYTES = 64
NODE_ID_CHARS = 43


@dataclass(frozen=True)
class NodeKeys:
    """A node's secret keys. Both seeds stay out of ``repr``."""

    signing_seed: bytes = field(repr=False)
    box_secret: bytes = field(repr=False)
    identity: str | None = None  # the node id, once the signing key was rotated

    def __post_init__(self) -> None:
        for name in ("signing_seed", "box_secret"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != KEY_BYTES:
                raise LocalProtocolError(f"{name} must be {KEY_BYTES} bytes")
        if self.identity is not None and not is_node_id(self.identity):
            raise LocalProtocolError("identity must be a node id")

    # Derived once per NodeKeys (the keys are immutable): deriving an Ed25519 key pair
    # from its seed costs about 25 us, and a node signs and names itself for every
    # message it sends (17,628 derivations in one statewide party run).
    @functools.cached_property
    def _signing_key(self) -> nacl.signing.SigningKey:
        return nacl.signing.SigningKey(self.signing_seed)

    @functools.cached_property
    def box_private(self) -> nacl.public.PrivateKey:
        """The X25519 private key object (for NaCl Box)."""
        return nacl.public.PrivateKey(self.box_secret)

    @functools.cached_property
    def node_id(self) -> str:
        """The node's identity: its first Ed25519 verify key, base64url (43 characters)."""
        return self.identity or self.signing_key_id

    @functools.cached_property
    def signing_key_id(self) -> str:
        """Base64url of the current Ed25519 verify key (the node id until a rotation)."""
        return b64u_encode(bytes(self._signing_key.verify_key))

    @property
    def box_public(self) -> bytes:
        """The X25519 public key (32 bytes)."""
        return bytes(self.box_private.public_key)

    @property
    def box_public_b64(self) -> str:
        return b64u_encode(self.box_public)

    def sign(self, data: bytes) -> bytes:
        """A 64-byte detached Ed25519 signature over ``data``."""
        return self._signing_key.sign(data).signature

    def __repr__(self) -> str:
        return f"NodeKeys(node_id={self.node_id!r})"


def is_node_id(text: object) -> bool:
    """True if ``text`` is base64url of exactly 32 bytes (43 characters)."""
    if not isinstance(text, str) or len(text) != NODE_ID_CHARS:
        return False
    try:
        return len(b64u_decode(text)) == KEY_BYTES
    except MalformedMessage:
        return False


def verify_key_from_node_id(node_id: str) -> nacl.signing.VerifyKey:
    if not is_node_id(node_id):
        raise MalformedMessage("node id must be base64url of a 32-byte Ed25519 key")
    return nacl.signing.VerifyKey(b64u_decode(node_id))


def verify_signature(node_id: str, data: bytes, signature: bytes) -> None:
    """Raise BadSignature unless ``signature`` is ``node_id``'s over ``data``."""
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_BYTES:
        raise BadSignature(f"signature must be {SIGNATURE_BYTES} bytes")
    try:
        verify_key = verify_key_from_node_id(node_id)
    except MalformedMessage as exc:
        raise BadSignature(exc.message) from exc
    try:
        verify_key.verify(data, signature)
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError) as exc:
        raise BadSignature("signature does not verify") from exc


def fingerprint(node_id: str) -> str:
    """Human-checkable digest of a node id, for reading aloud.

    SHA-256 of the 32 raw key bytes, first 20 bytes (160 bits), as 10 groups
    of 4 uppercase hex digits separated by single spaces.
    """
    digest = hashlib.sha256(verify_key_from_node_id(node_id).encode()).digest()[:20]
    hex_digits = digest.hex().upper()
    return " ".join(hex_digits[i : i + 4] for i in range(0, len(hex_digits), 4))


@functools.lru_cache(maxsize=1024)
def box_between(own: NodeKeys, peer_box_key: bytes) -> nacl.public.Box:
    """The NaCl Box of our X25519 key and a peer's (its shared key precomputed once, not
    for every message; a party talks to hundreds of peers, hence the cache's size)."""
    return nacl.public.Box(own.box_private, nacl.public.PublicKey(peer_box_key))
