"""Invite tokens and the pure parts of pairing.

How pairing works (the node does the I/O and the database checks):

1. The inviter runs ``make_invite`` with a random 16-byte invite id and
   secret, stores ``hash_secret(secret)`` and the expiry, and prints
   ``token.encode()``.
2. The joiner runs ``InviteToken.decode``, ``check_invite_expiry``, fetches
   ``GET {token.url}/.well-known/tagshare`` and checks it with
   ``verify_inviter_document``; then POSTs ``make_pair_request(...)`` to
   ``{token.url}/federation/v1/pair``.
3. The inviter runs ``parse_pair_request``, then ``check_recipient``,
   ``verify_envelope``, ``check_clock`` and ``open_envelope`` (with the
   joiner document's box key), then its own invite checks (exists, not
   expired, not used, ``secret_matches``, failure rate limit), stores the
   peer, marks the invite used, and answers with an envelope carrying
   ``PairAccept``.
4. The joiner opens that reply with the token's box key and checks it with
   ``check_pair_accept``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from tagshare.protocol import _fields as f
from tagshare.protocol.document import (
    MAX_DOCUMENT_BYTES,
    NodeDocument,
    check_url,
    verify_document,
    verify_document_signature,
)
from tagshare.protocol.encoding import b64u_decode, b64u_encode, canonical_json, parse_json
from tagshare.protocol.envelope import Envelope, seal
from tagshare.protocol.errors import (
    BadInvite,
    BadSignature,
    LocalProtocolError,
    RemoteProtocolError,
)
from tagshare.protocol.keys import KEY_BYTES, NodeKeys, is_node_id
from tagshare.protocol.messages import ID_BYTES, SECRET_BYTES, Message, PairAccept, PairRequest

TOKEN_PREFIX = "tagshare1:"
MAX_TOKEN_CHARS = 4096
_SECRET_HASH_PREFIX = b"tagshare-invite-v1:"
_TOKEN_KEYS = frozenset({"url", "node", "box_key", "invite", "secret", "expires"})
_PAIR_KEYS = frozenset({"document", "envelope"})
# A pair request carries the joiner's document twice (once encrypted, as base64url):
# four documents' worth is room enough, and bounds the unauthenticated parse.
MAX_PAIR_REQUEST_BYTES = 4 * MAX_DOCUMENT_BYTES


@dataclass(frozen=True)
class InviteToken:
    """What ``tagshare invite`` prints; binary fields are base64url text."""

    url: str
    node_id: str
    box_key: str
    invite_id: str
    secret: str
    expires: int

    def __post_init__(self) -> None:
        check_url(self.url)
        if not is_node_id(self.node_id):
            raise LocalProtocolError("node_id must be a node id")
        f.check_b64(self.box_key, KEY_BYTES, "box_key")
        f.check_b64(self.invite_id, ID_BYTES, "invite_id")
        f.check_b64(self.secret, SECRET_BYTES, "secret")
        f.check_int(self.expires, "expires")

    @property
    def box_public(self) -> bytes:
        return b64u_decode(self.box_key)

    @property
    def secret_bytes(self) -> bytes:
        return b64u_decode(self.secret)

    def to_dict(self) -> dict[str, object]:
        return {
            "url": self.url,
            "node": self.node_id,
            "box_key": self.box_key,
            "invite": self.invite_id,
            "secret": self.secret,
            "expires": self.expires,
        }

    def encode(self) -> str:
        """One copyable line: ``tagshare1:`` + base64url(canonical JSON)."""
        return TOKEN_PREFIX + b64u_encode(canonical_json(self.to_dict()))

    @classmethod
    def decode(cls, text: str) -> InviteToken:
        """Parse a pasted token; BadInvite for anything malformed."""
        if not isinstance(text, str):
            raise BadInvite("invite token must be text")
        text = text.strip()
        if len(text) > MAX_TOKEN_CHARS or not text.startswith(TOKEN_PREFIX):
            raise BadInvite(f"invite token must start with {TOKEN_PREFIX!r}")
        try:  # a token cut short when copied no longer decodes, or ends mid-JSON
            raw = parse_json(b64u_decode(text[len(TOKEN_PREFIX) :]), max_bytes=MAX_TOKEN_CHARS)
        except RemoteProtocolError as exc:
            raise BadInvite("the invite token is incomplete (cut short when copied?): "
                            "copy the whole line") from exc
        try:
            obj = f.require_object(raw, _TOKEN_KEYS, "invite token")
            return f.build(
                lambda: cls(
                    url=f.get_str(obj, "url"),
                    node_id=f.get_str(obj, "node"),
                    box_key=f.get_str(obj, "box_key"),
                    invite_id=f.get_str(obj, "invite"),
                    secret=f.get_str(obj, "secret"),
                    expires=f.get_int(obj, "expires"),
                )
            )
        except RemoteProtocolError as exc:
            raise BadInvite(f"garbled invite token: {exc.message}") from exc


def make_invite(
    *, keys: NodeKeys, url: str, invite_id: bytes, secret: bytes, expires: int
) -> InviteToken:
    """Inviter: a token for 16 random bytes of ``invite_id`` and of ``secret``."""
    return InviteToken(
        url=url,
        node_id=keys.node_id,
        box_key=keys.box_public_b64,
        invite_id=b64u_encode(invite_id),
        secret=b64u_encode(secret),
        expires=expires,
    )


def check_invite_expiry(token: InviteToken, *, now: int) -> None:
    """BadInvite if the token has expired (the joiner's early check)."""
    if now > token.expires:
        raise BadInvite("invite token has expired")


def hash_secret(secret: bytes) -> str:
    """What the inviter stores: hex SHA-256 of ``b"tagshare-invite-v1:" + secret``."""
    if not isinstance(secret, bytes):
        raise LocalProtocolError("secret must be bytes")
    return hashlib.sha256(_SECRET_HASH_PREFIX + secret).hexdigest()


def secret_matches(secret: bytes, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    if not isinstance(secret, bytes) or not isinstance(stored_hash, str):
        return False
    return hmac.compare_digest(hash_secret(secret).encode(), stored_hash.encode("utf-8"))


def verify_inviter_document(doc: NodeDocument, token: InviteToken, *, now: int) -> None:
    """Joiner: the fetched document must be signed by, and match, the token's node.

    BadSignature/StaleMessage from ``verify_document``; BadInvite if the
    encryption key differs from the token's.
    """
    verify_document(doc, now=now, expected_node_id=token.node_id)
    if doc.box_key != token.box_key:
        raise BadInvite("the node's encryption key does not match the invite")


def make_pair_request(
    *,
    joiner: NodeKeys,
    joiner_document: NodeDocument,
    token: InviteToken,
    message_id: bytes,
    nonce: bytes,
    created: int,
) -> bytes:
    """Joiner: the body of ``POST /federation/v1/pair``."""
    if joiner_document.node_id != joiner.node_id or joiner_document.signature == "":
        raise LocalProtocolError("joiner_document must be the joiner's signed document")
    envelope = seal(
        sender=joiner,
        recipient_id=token.node_id,
        recipient_box_key=token.box_public,
        message=PairRequest(
            invite_id=token.invite_id, secret=token.secret, document=joiner_document
        ),
        message_id=message_id,
        nonce=nonce,
        created=created,
    )
    return canonical_json({"document": joiner_document.to_dict(), "envelope": envelope.to_dict()})


def parse_pair_request(raw: bytes, *, now: int | None = None) -> tuple[NodeDocument, Envelope]:
    """Inviter: parse the pair body, check the document is the sender's and self-signed.

    With ``now``, an expired document is also rejected (StaleMessage). The
    caller continues with check_recipient, verify_envelope, check_clock and
    open_envelope(sender_box_key=document.box_public).
    """
    obj = f.require_object(parse_json(raw, max_bytes=MAX_PAIR_REQUEST_BYTES, max_depth=8),
                           _PAIR_KEYS, "pair request")
    envelope = Envelope.from_dict(obj["envelope"])
    document = NodeDocument.from_dict(obj["document"])
    if document.node_id != envelope.sender:
        raise BadSignature("the document is not the envelope sender's")
    if now is None:
        verify_document_signature(document)
    else:
        verify_document(document, now=now)
    return document, envelope


def check_pair_request(request: Message, *, document: NodeDocument) -> PairRequest:
    """Inviter: the opened message must be a PairRequest carrying the same document."""
    if not isinstance(request, PairRequest):
        raise BadInvite(f"expected pair.request, got {request.TYPE}")
    if request.document != document:
        raise BadInvite("the document inside the request differs from the outer one")
    return request


def check_pair_accept(accept: Message, *, token: InviteToken, now: int) -> NodeDocument:
    """Joiner: the reply must be a PairAccept with the token's node document."""
    if not isinstance(accept, PairAccept):
        raise BadInvite(f"expected pair.accept, got {accept.TYPE}")
    verify_inviter_document(accept.document, token, now=now)
    return accept.document

