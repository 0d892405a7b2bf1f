"""Pairing two nodes with an invite token.

The inviter prints a token (URL, node id, encryption key, one-time secret);
it stores only a hash of the secret. The joiner fetches and checks the
inviter's document against the token, then proves it knows the secret in an
envelope encrypted to the inviter; the inviter stores the joiner as a peer
and answers with its own document, encrypted back.

Guesses are limited where they cannot lock anyone else out. A wrong secret
counts against its invite, and an invite that had MAX_INVITE_FAILURES wrong
secrets is locked (only someone who saw its id, which travels with the
secret, can do that). Every guess (wrong secret, unknown invite, a request
that does not open) also counts against its source address: past
MAX_SOURCE_FAILURES in the window the source is answered `rate_limited` and
its guesses are no longer written down. The claimed node key is recorded for
the operator but limits nothing: a stranger makes a fresh one for free. An
invite's right secret always pairs, whatever strangers did, and the loser of
a race for one invite (right secret, already used) guessed nothing.
"""

import ipaddress
import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from tagshare.node import clock as clocks
from tagshare.node.client import FederationClient, PeerCertificateMismatch, PeerUnreachable
from tagshare.node.errors import InvalidInput, NodeError
from tagshare.node.identity import node_document
from tagshare.node.node import Node
from tagshare.node.normalize import now_iso
from tagshare.node.peer_text import peer_text
from tagshare.node.peers import check_alias, peer_dict
from tagshare.node.refusals import RateLimited
from tagshare.node.storage import db
from tagshare.node.storage import peers as store
from tagshare.protocol import (
    BadInvite,
    Envelope,
    InviteToken,
    NodeDocument,
    ProtocolError,
    b64u_decode,
    check_clock,
    check_invite_expiry,
    check_pair_accept,
    check_pair_request,
    check_recipient,
    current_key,
    fingerprint,
    hash_secret,
    make_invite,
    make_pair_request,
    open_envelope,
    parse_envelope,
    parse_pair_request,
    seal,
    secret_matches,
    verify_envelope,
    verify_inviter_document,
)
from tagshare.protocol.messages import PairAccept, PairRequest

pairing_log = logging.getLogger("tagshare.pairing")

PAIR_PATH = "/federation/v1/pair"
MAX_INVITE_FAILURES = 10  # wrong secrets before an invite is locked
MAX_SOURCE_FAILURES = 10  # guesses from one address in the window before it is limited
FAILURE_WINDOW_SECONDS = 600
MAX_INVITE_LIFETIME = timedelta(days=30)


def create_invite(node: Node, expires_in: timedelta, now: int,
                  alias: str | None = None) -> InviteToken:
    """A one-time invite; `alias` is what the node that pairs with it is called here."""
    if expires_in > MAX_INVITE_LIFETIME:
        raise InvalidInput("--expires can be at most 30d")
    if alias is not None:
        alias = _invite_alias(node.conn, alias)
    invite_id, secret = clocks.random_bytes(16), clocks.random_bytes(16)
    token = make_invite(keys=node.keys, url=node.config.url, invite_id=invite_id,
                        secret=secret, expires=now + int(expires_in.total_seconds()))
    with db.transaction(node.conn) as conn:
        store.insert_invite(conn, invite_id=token.invite_id, secret_hash=hash_secret(secret),
                            created_at=now_iso(), expires=token.expires, alias=alias)
        node.audit("invite", invite=token.invite_id, expires=token.expires,
                   **({"alias": alias} if alias else {}))
    return token


def _invite_alias(conn: sqlite3.Connection, alias: str) -> str:
    text = alias.strip()
    if not text or len(text) > 100:
        raise InvalidInput("--name must be 1 to 100 characters")
    if store.alias_taken(conn, text, ""):
        raise InvalidInput(f"a peer is already called {text!r}: a peer that pairs again keeps "
                           "its alias, so re-invite it without --name, or choose another")
    return text


def loopback_url(url: str) -> bool:
    """Does `url` name this machine only (127.0.0.0/8, ::1, localhost)? Nobody elsewhere
    can pair with an invite that carries it."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Guess(BadInvite):
    """A pair request that names no invite of ours, or one with the wrong secret."""


@dataclass(frozen=True)
class PairBody:
    """A pair request whose shape, signature and clock are checked."""

    document: NodeDocument
    envelope: Envelope
    now: int


def check_pair_body(node: Node, raw: bytes, now: int) -> PairBody:
    """The checks that need no database, so that they can run beside the database thread."""
    document, envelope = parse_pair_request(raw, now=now)
    check_recipient(envelope, node.node_id)
    verify_envelope(envelope, current_key(document.node_id, document.keys))
    check_clock(envelope, now=now)
    return PairBody(document, envelope, now)


def accept_pair_request(node: Node, body: PairBody, *, source: str) -> bytes:
    """Inviter side of POST /federation/v1/pair; returns the reply envelope's bytes.
    `source` is the remote address, which the guesses are counted against."""
    document, now = body.document, body.now
    invite_id = None
    try:
        message = open_envelope(body.envelope, recipient=node.keys,
                                sender_box_key=document.box_public)
        request = check_pair_request(message, document=document)
        invite_id = request.invite_id
        _redeem_invite(node, request, document, now)
    except ProtocolError as refusal:  # expired, used or locked: the secret was no guess
        if isinstance(refusal, Guess) or invite_id is None:
            _count_guess(node, invite_id, source=source, joiner=document.node_id, now=now)
        raise
    reply = seal(sender=node.keys, recipient_id=document.node_id,
                 recipient_box_key=document.box_public,
                 message=PairAccept(document=node_document(node, now)),
                 message_id=clocks.random_bytes(16), nonce=clocks.random_bytes(24), created=now)
    return reply.to_bytes()


def _redeem_invite(node: Node, request: PairRequest, joiner: NodeDocument, now: int) -> None:
    with db.transaction(node.conn) as conn:
        invite = store.get_invite(conn, request.invite_id)
        if invite is not None and invite["failures"] >= MAX_INVITE_FAILURES:
            raise RateLimited("this invite is locked after too many wrong secrets: "
                              "ask for a new one")
        if invite is None or not secret_matches(b64u_decode(request.secret),
                                                invite["secret_hash"]):
            raise Guess("unknown invite or wrong secret")
        if invite["expires"] < now:
            raise BadInvite("this invite has expired: ask for a new one")
        if not store.use_invite(conn, request.invite_id, at=now_iso(), by=joiner.node_id):
            raise BadInvite("this invite was already used: ask for a new one")
        kept = _store_peer(conn, joiner, alias=invite["alias"], auto_accept=False)
        node.audit("peer.add", peer=joiner.node_id, name=joiner.name, via="invite")
    if kept is not None:
        pairing_log.info("peer %r paired again (invite %s): it keeps its alias %r", kept,
                         request.invite_id, kept, extra={"peer": kept})


def _count_guess(node: Node, invite_id: str | None, *, source: str, joiner: str,
                 now: int) -> None:
    """Count a guess against its invite and its source; RateLimited once the source has
    guessed too often (its further guesses are not written: they cost no disk)."""
    with db.transaction(node.conn) as conn:
        if invite_id is not None:
            store.count_invite_failure(conn, invite_id)
        since = now - FAILURE_WINDOW_SECONDS
        limited = store.source_failures_since(conn, source, since) >= MAX_SOURCE_FAILURES
        if not limited:
            store.record_pairing_failure(conn, at=now, source=source, node_id=joiner,
                                         invite_id=invite_id)
    if limited:
        raise RateLimited("too many failed pairing attempts from this address: "
                          "try again in a few minutes")


def list_invites(node: Node, now: int) -> dict[str, list[dict[str, object]]]:
    """`tagshare invite list`: each invite with its state and wrong secrets, and the
    guesses at no known invite in the window, by source."""
    invites = [{
        "invite_id": row["id"], "created_at": row["created_at"], "expires": row["expires"],
        "state": _invite_state(row, now), "failed_attempts": row["failures"],
        "used_by": row["used_by"],
    } for row in store.list_invites(node.conn)]
    sources = [dict(row) for row in
               store.failures_by_source(node.conn, now - FAILURE_WINDOW_SECONDS)]
    return {"invites": invites, "recent_failures": sources}


def _invite_state(row: sqlite3.Row, now: int) -> str:
    if row["used_at"] is not None:
        return "used"
    if row["failures"] >= MAX_INVITE_FAILURES:
        return "locked"
    return "expired" if row["expires"] < now else "open"


def _store_peer(conn: sqlite3.Connection, document: NodeDocument, *, alias: str | None,
                auto_accept: bool) -> str | None:
    """Store a new peer, or refresh one that pairs again. A peer that pairs again keeps the
    alias the operator gave it (returned; None for a new peer or one without an alias):
    only `peer rename` changes an alias. `alias` applies when there is none to keep and no
    other peer took it meanwhile."""
    existing = store.get_peer(conn, document.node_id)
    kept = existing["alias"] if existing is not None else None
    if kept is not None and store.alias_taken(conn, kept, document.node_id):
        kept = None  # removed, and another peer is called that now
    if alias is not None and store.alias_taken(conn, alias, document.node_id):
        alias = None
    store.upsert_peer(conn, {
        "node_id": document.node_id, "name": _local_name(conn, document),
        "announced": document.name,
        "alias": kept if kept is not None else alias,
        "url": document.url, "box_key": document.box_key,
        "signing_key": current_key(document.node_id, document.keys),
        "document": json.dumps(document.to_dict()),
        "auto_accept": int(auto_accept or bool(existing and existing["auto_accept"])),
        "added_at": now_iso(),
    })
    return str(kept) if kept is not None else None


def _local_name(conn: sqlite3.Connection, document: NodeDocument) -> str:
    """The name a new peer is first known by: the one it announces, unless another peer
    is known by it already (then with the start of its fingerprint, to tell them apart)."""
    if not store.alias_taken(conn, document.name, document.node_id):
        return document.name
    return f"{document.name} ({fingerprint(document.node_id)[:9]})"


async def join(node: Node, token_text: str, *, alias: str | None, auto_accept: bool,
               client: FederationClient, now: int) -> dict[str, object]:
    """Joiner side: `tagshare peer add TOKEN`."""
    try:
        token = InviteToken.decode(token_text)
        check_invite_expiry(token, now=now)
    except ProtocolError as exc:
        raise InvalidInput(f"invalid invite token: {exc}: ask the inviter for a new one") from None
    if token.node_id == node.node_id:
        raise InvalidInput("this invite was made by this very node: run `peer add` on the other")
    alias = check_alias(node.conn, alias, token.node_id)
    try:
        inviter = await client.fetch_document(token.url)
    except PeerCertificateMismatch:
        raise
    except PeerUnreachable:
        raise NodeError(f"cannot reach the inviter at {token.url}: is `tagshare serve` "
                        f"running at {token.url}?") from None
    body = make_pair_request(joiner=node.keys, joiner_document=node_document(node, now),
                             token=token, message_id=clocks.random_bytes(16),
                             nonce=clocks.random_bytes(24), created=now)
    try:
        verify_inviter_document(inviter, token, now=now)
        reply = await client.post(token.url, PAIR_PATH, body, inviter.tls_sha256)
        envelope = parse_envelope(reply)
        check_recipient(envelope, node.node_id)
        verify_envelope(envelope, current_key(inviter.node_id, inviter.keys))
        if envelope.sender != token.node_id:
            raise BadInvite("the reply was not sent by the invited node")
        message = open_envelope(envelope, recipient=node.keys, sender_box_key=token.box_public)
        document = check_pair_accept(message, token=token, now=now)
    except ProtocolError as exc:
        raise NodeError(f"pairing with {token.url} failed: {peer_text(exc)}") from None
    with db.transaction(node.conn) as conn:
        again = store.get_peer(conn, document.node_id) is not None
        kept = _store_peer(conn, document, alias=alias, auto_accept=auto_accept)
        node.audit("peer.add", peer=document.node_id, name=document.name, via="token")
        row = store.get_peer(conn, document.node_id)
    assert row is not None
    return {**peer_dict(row), "paired_again": again, "alias_kept": kept is not None}
