"""Pairing two nodes with an invite token.

The inviter prints a token (URL, node id, encryption key, one-time secret);
it stores only a hash of the secret. The joiner fetches and checks the
inviter's document against the token, then proves it knows the secret in an
envelope encrypted to the inviter; the inviter stores the joiner as a peer
and answers with its own document, encrypted back. Failed attempts are
counted, and too many in the window are refused before any secret is
checked.
"""

import json
import sqlite3
from datetime import timedelta

from node import clock as clocks
from node.client import FederationClient
from node.errors import InvalidInput, NodeError
from node.identity import node_document
from node.node import Node
from node.normalize import now_iso
from node.peers import check_alias, peer_dict
from node.refusals import RateLimited
from node.storage import db
from node.storage import peers as store
from protocol import (
    BadInvite,
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
from protocol.messages import PairAccept

PAIR_PATH = "/federation/v1/pair"
MAX_FAILURES = 10
FAILURE_WINDOW_SECONDS = 600
MAX_INVITE_LIFETIME = timedelta(days=30)


def create_invite(node: Node, expires_in: timedelta, now: int) -> InviteToken:
    if expires_in > MAX_INVITE_LIFETIME:
        raise InvalidInput("--expires can be at most 30d")
    invite_id, secret = clocks.random_bytes(16), clocks.random_bytes(16)
    token = make_invite(keys=node.keys, url=node.config.url, invite_id=invite_id,
                        secret=secret, expires=now + int(expires_in.total_seconds()))
    with db.transaction(node.conn) as conn:
        store.insert_invite(conn, invite_id=token.invite_id, secret_hash=hash_secret(secret),
                            created_at=now_iso(), expires=token.expires)
        node.audit("invite", invite=token.invite_id, expires=token.expires)
    return token


def accept_pair_request(node: Node, raw: bytes, now: int) -> bytes:
    """Inviter side of POST /federation/v1/pair; returns the reply envelope's bytes."""
    document, envelope = parse_pair_request(raw, now=now)
    check_recipient(envelope, node.node_id)
    verify_envelope(envelope, current_key(document.node_id, document.keys))
    check_clock(envelope, now=now)
    if store.pairing_failures_since(node.conn, now - FAILURE_WINDOW_SECONDS) >= MAX_FAILURES:
        raise RateLimited("too many failed pairing attempts: try again in a few minutes")
    try:
        message = open_envelope(envelope, recipient=node.keys, sender_box_key=document.box_public)
        request = check_pair_request(message, document=document)
        with db.transaction(node.conn) as conn:
            _redeem_invite(conn, request.invite_id, b64u_decode(request.secret), document, now)
            _store_peer(conn, document, alias=None, auto_accept=False)
            node.audit("peer.add", peer=document.node_id, name=document.name, via="invite")
    except ProtocolError:
        with db.transaction(node.conn) as conn:
            store.record_pairing_failure(conn, now)
        raise
    reply = seal(sender=node.keys, recipient_id=document.node_id,
                 recipient_box_key=document.box_public,
                 message=PairAccept(document=node_document(node, now)),
                 message_id=clocks.random_bytes(16), nonce=clocks.random_bytes(24), created=now)
    return reply.to_bytes()


def _redeem_invite(conn: sqlite3.Connection, invite_id: str, secret: bytes,
                   joiner: NodeDocument, now: int) -> None:
    invite = store.get_invite(conn, invite_id)
    if invite is None or not secret_matches(secret, invite["secret_hash"]):
        raise BadInvite("unknown invite or wrong secret")
    if invite["expires"] < now:
        raise BadInvite("this invite has expired: ask for a new one")
    if not store.use_invite(conn, invite_id, at=now_iso(), by=joiner.node_id):
        raise BadInvite("this invite was already used: ask for a new one")


def _store_peer(conn: sqlite3.Connection, document: NodeDocument, *, alias: str | None,
                auto_accept: bool) -> None:
    existing = store.get_peer(conn, document.node_id)
    store.upsert_peer(conn, {
        "node_id": document.node_id, "name": document.name,
        "alias": alias if alias is not None else (existing["alias"] if existing else None),
        "url": document.url, "box_key": document.box_key,
        "signing_key": current_key(document.node_id, document.keys),
        "document": json.dumps(document.to_dict()),
        "auto_accept": int(auto_accept or bool(existing and existing["auto_accept"])),
        "added_at": now_iso(),
    })


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
    inviter = await client.fetch_document(token.url)
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
        raise NodeError(f"pairing with {token.url} failed: {exc}") from None
    with db.transaction(node.conn) as conn:
        _store_peer(conn, document, alias=alias, auto_accept=auto_accept)
        node.audit("peer.add", peer=document.node_id, name=document.name, via="token")
        row = store.get_peer(conn, document.node_id)
    assert row is not None
    return peer_dict(row)
