"""Envelopes: signed, encrypted, addressed messages.

How this works. The sender encrypts ``canonical_json(inner)`` with NaCl Box
(sender's X25519 secret, recipient's X25519 public key, a 24-byte nonce),
where ``inner`` repeats the type, sender, recipient and id next to the body,
then signs the canonical JSON of the outer object (minus ``signature``) with
its Ed25519 key. The receiver runs the steps below *in this order*, with its
own database checks in between (unknown peer after verify_envelope, replay
after check_clock)::

    env = parse_envelope(raw)            # TooLarge, MalformedMessage, UnsupportedVersion
    check_recipient(env, my_node_id)     # WrongRecipient
    verify_envelope(env)                 # BadSignature
    check_clock(env, now=now)            # StaleMessage
    msg = open_envelope(env, recipient=my_keys, sender_box_key=peer_box_key)
                                         # DecryptionFailed, MalformedMessage
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields

import nacl.exceptions
import nacl.public

from tagshare.protocol import _fields as f
from tagshare.protocol.encoding import (
    CLOCK_WINDOW_SECONDS,
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    b64u_decode,
    b64u_encode,
    canonical_json,
    parse_canonical_json,
    parse_json,
)
from tagshare.protocol.errors import (
    DecryptionFailed,
    LocalProtocolError,
    MalformedMessage,
    StaleMessage,
    UnsupportedVersion,
    WrongRecipient,
)
from tagshare.protocol.keys import (
    KEY_BYTES,
    SIGNATURE_BYTES,
    NodeKeys,
    box_between,
    is_node_id,
    verify_signature,
)
from tagshare.protocol.messages import (
    ID_BYTES,
    Message,
    is_message_type,
    message_from_dict,
    message_to_dict,
)

NONCE_BYTES = 24
MAC_BYTES = 16

_WIRE_KEYS = frozenset(
    {"v", "type", "sender", "recipient", "id", "created", "nonce", "ciphertext", "signature"}
)
_INNER_KEYS = frozenset({"type", "sender", "recipient", "id", "body"})
# An envelope is one flat object of nine members, and none of its values may hold a
# comma: more commas than this and the body cannot be one, whatever else it holds.
_MAX_ENVELOPE_COMMAS = 16


@dataclass(frozen=True)
class Envelope:
    """One envelope as it travels; binary fields are base64url text.

    ``version`` is the wire field ``v`` (also readable as ``env.v``).
    """

    version: int
    type: str
    sender: str
    recipient: str
    id: str
    created: int
    nonce: str
    ciphertext: str
    signature: str
    # The decoded ciphertext, kept from the check below so that opening needs no second
    # decode of the largest field.
    ciphertext_bytes: bytes = field(default=b"", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        f.check_int(self.version, "v", minimum=1)
        if not is_message_type(self.type):
            raise LocalProtocolError("type must be dotted lowercase words, at most 64 chars")
        for name in ("sender", "recipient"):
            if not is_node_id(getattr(self, name)):
                raise LocalProtocolError(f"{name} must be a node id")
        f.check_b64(self.id, ID_BYTES, "id")
        f.check_int(self.created, "created")
        f.check_b64(self.nonce, NONCE_BYTES, "nonce")
        f.check_str(self.ciphertext, "ciphertext", max_len=MAX_MESSAGE_BYTES)
        try:
            ciphertext = b64u_decode(self.ciphertext)
        except MalformedMessage as exc:
            raise LocalProtocolError(f"ciphertext: {exc.message}") from exc
        if len(ciphertext) < MAC_BYTES:
            raise LocalProtocolError("ciphertext is shorter than the authenticator")
        object.__setattr__(self, "ciphertext_bytes", ciphertext)
        f.check_b64(self.signature, SIGNATURE_BYTES, "signature")

    def __reduce__(self) -> tuple[Callable[..., Envelope], tuple[object, ...]]:
        # Pickled as its wire fields (to another process): built and checked again there,
        # without the decoded ciphertext's second copy.
        return (type(self), tuple(getattr(self, f.name) for f in fields(self) if f.init))

    @property
    def v(self) -> int:
        return self.version

    def to_dict(self) -> dict[str, object]:
        return {
            "v": self.version,
            "type": self.type,
            "sender": self.sender,
            "recipient": self.recipient,
            "id": self.id,
            "created": self.created,
            "nonce": self.nonce,
            "ciphertext": self.ciphertext,
            "signature": self.signature,
        }

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_dict())

    def signed_bytes(self) -> bytes:
        """The signature input: canonical JSON of the wire form minus ``signature``."""
        unsigned = self.to_dict()
        del unsigned["signature"]
        return canonical_json(unsigned)

    @classmethod
    def from_dict(cls, data: object) -> Envelope:
        """Peer JSON object -> Envelope (UnsupportedVersion before any shape check)."""
        version = data.get("v") if isinstance(data, dict) else None
        is_int = isinstance(version, int) and not isinstance(version, bool)
        if is_int and version != PROTOCOL_VERSION:
            raise UnsupportedVersion(f"envelope version {version} is not supported")
        obj = f.require_object(data, _WIRE_KEYS, "envelope")
        return f.build(
            lambda: cls(
                version=f.get_int(obj, "v"),
                type=f.get_str(obj, "type"),
                sender=f.get_str(obj, "sender"),
                recipient=f.get_str(obj, "recipient"),
                id=f.get_str(obj, "id"),
                created=f.get_int(obj, "created"),
                nonce=f.get_str(obj, "nonce"),
                ciphertext=f.get_str(obj, "ciphertext"),
                signature=f.get_str(obj, "signature"),
            )
        )


def seal(
    *,
    sender: NodeKeys,
    recipient_id: str,
    recipient_box_key: bytes,
    message: Message,
    message_id: bytes,
    nonce: bytes,
    created: int,
) -> Envelope:
    """Encrypt ``message`` to the recipient and sign the envelope.

    The caller supplies the randomness (``message_id``: 16 random bytes,
    ``nonce``: 24 random bytes, never reused with the same key pair) and the
    clock (``created``).
    """
    if not is_node_id(recipient_id):
        raise LocalProtocolError("recipient_id must be a node id")
    _check_bytes(recipient_box_key, KEY_BYTES, "recipient_box_key")
    _check_bytes(message_id, ID_BYTES, "message_id")
    _check_bytes(nonce, NONCE_BYTES, "nonce")
    body = message_to_dict(message)
    id_text = b64u_encode(message_id)
    plaintext = canonical_json(
        {
            "type": message.TYPE,
            "sender": sender.node_id,
            "recipient": recipient_id,
            "id": id_text,
            "body": body,
        },
        checked=True,  # every message validates its fields when it is built
    )
    box = box_between(sender, recipient_box_key)
    ciphertext_text = b64u_encode(box.encrypt(plaintext, nonce).ciphertext)
    nonce_text = b64u_encode(nonce)
    unsigned = {
        "v": PROTOCOL_VERSION,
        "type": message.TYPE,
        "sender": sender.node_id,
        "recipient": recipient_id,
        "id": id_text,
        "created": created,
        "nonce": nonce_text,
        "ciphertext": ciphertext_text,
    }
    signature = b64u_encode(sender.sign(canonical_json(unsigned)))
    envelope = Envelope(
        version=PROTOCOL_VERSION,
        type=message.TYPE,
        sender=sender.node_id,
        recipient=recipient_id,
        id=id_text,
        created=created,
        nonce=nonce_text,
        ciphertext=ciphertext_text,
        signature=signature,
    )
    if len(envelope.to_bytes()) > MAX_MESSAGE_BYTES:
        raise LocalProtocolError("envelope would exceed MAX_MESSAGE_BYTES; split the message")
    return envelope


def _check_bytes(value: object, length: int, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != length:
        raise LocalProtocolError(f"{what} must be {length} bytes")


def parse_envelope(raw: bytes) -> Envelope:
    """Step 1: bytes -> Envelope. TooLarge, MalformedMessage, UnsupportedVersion.

    Before the signature proves anything, the work a body can cost stays small: the
    comma count and ``max_depth=1`` refuse, in one linear pass, bodies with many
    members or any nesting, which no envelope has.
    """
    if (isinstance(raw, bytes | bytearray) and len(raw) <= MAX_MESSAGE_BYTES
            and raw.count(b",") > _MAX_ENVELOPE_COMMAS):
        raise MalformedMessage("an envelope is one JSON object of nine members")
    return Envelope.from_dict(parse_json(raw, max_depth=1))


def check_recipient(env: Envelope, node_id: str) -> None:
    """Step 2: WrongRecipient unless the envelope is addressed to ``node_id``."""
    if env.recipient != node_id:
        raise WrongRecipient("envelope is addressed to another node")


def verify_envelope(env: Envelope, signing_key: str | None = None) -> None:
    """Step 3: BadSignature unless the sender signed it: with ``signing_key`` when the
    sender has rotated its key (the receiver knows its chain), else with the sender id,
    which is the node's first key."""
    verify_signature(signing_key or env.sender, env.signed_bytes(), b64u_decode(env.signature))


def check_clock(env: Envelope, *, now: int, window: int = CLOCK_WINDOW_SECONDS) -> None:
    """Step 4: StaleMessage if ``created`` is more than ``window`` seconds from ``now``."""
    if abs(now - env.created) > window:
        raise StaleMessage(
            f"envelope created at {env.created}, now is {now}; window is {window} s"
        )


def open_envelope(env: Envelope, *, recipient: NodeKeys, sender_box_key: bytes) -> Message:
    """Step 5: decrypt, check the inner header against the outer one, parse the body."""
    check_recipient(env, recipient.node_id)
    _check_bytes(sender_box_key, KEY_BYTES, "sender_box_key")
    return _open_box(env, box_between(recipient, sender_box_key))


def shared_key(recipient: NodeKeys, sender_box_key: bytes) -> bytes:
    """The Box key of our X25519 key and a sender's: all that opening that sender's
    envelopes takes (it opens nothing else and signs nothing), for a process that must
    not hold our keys."""
    _check_bytes(sender_box_key, KEY_BYTES, "sender_box_key")
    return box_between(recipient, sender_box_key).shared_key()


def open_with_shared_key(env: Envelope, key: bytes) -> Message:
    """Step 5 as open_envelope, with the `shared_key` of the recipient and the sender;
    the recipient must have been checked (step 2)."""
    _check_bytes(key, KEY_BYTES, "shared key")
    return _open_box(env, nacl.public.Box.decode(key))


def open_with_keys(env: Envelope, keys: Sequence[bytes]) -> tuple[Message, int]:
    """Step 5 with the first of these shared keys that opens the envelope (our current
    keys', then those a rotation replaced), and its index; DecryptionFailed if none."""
    for index, key in enumerate(keys):
        try:
            return open_with_shared_key(env, key), index
        except DecryptionFailed:
            if index + 1 == len(keys):
                raise
    raise LocalProtocolError("no key to open the envelope with")


def _open_box(env: Envelope, box: nacl.public.Box) -> Message:
    try:
        plaintext = box.decrypt(env.ciphertext_bytes, b64u_decode(env.nonce))
    except nacl.exceptions.CryptoError as exc:
        raise DecryptionFailed("ciphertext does not open with these keys") from exc
    inner = f.require_object(parse_canonical_json(plaintext), _INNER_KEYS, "inner header")
    outer = {"type": env.type, "sender": env.sender, "recipient": env.recipient, "id": env.id}
    if any(inner[key] != value for key, value in outer.items()):
        raise MalformedMessage("inner header mismatch")
    return message_from_dict(env.type, inner["body"])


def message_id_of(env: Envelope) -> str:
    """The id to acknowledge and to record against replay (with the sender id)."""
    return env.id
