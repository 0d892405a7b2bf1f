"""Receiving envelopes: the inbox's checks, in the order the protocol fixes.

    size -> JSON shape -> recipient -> signature -> known peer -> clock
         -> not seen before -> decrypt -> apply + remember id (one transaction)
         -> signed, encrypted Ack back to the sender

Nothing is read from the database before the signature is verified, nothing
is decrypted before the sender is known to be a peer, and the message id is
recorded in the same transaction that applies the message, so a replay can
never apply twice.
"""

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

from node import clock as clocks
from node.node import Node
from node.refusals import Replayed, UnknownPeer
from node.storage import db
from node.storage import peers as peer_store
from protocol import (
    CLOCK_WINDOW_SECONDS,
    Ack,
    Envelope,
    MalformedMessage,
    Message,
    Ping,
    b64u_decode,
    check_clock,
    check_recipient,
    open_envelope,
    parse_envelope,
    seal,
    verify_envelope,
)

# A handler applies one message from one peer inside the inbox's transaction
# and returns the Ack's detail.
Handler = Callable[[Node, sqlite3.Row, Message], dict[str, object]]


def _ping(_node: Node, _peer: sqlite3.Row, _message: Message) -> dict[str, object]:
    return {"pong": True}


@dataclass
class Inbox:
    node: Node
    clock: clocks.Clock = clocks.system_clock
    handlers: dict[str, Handler] = field(default_factory=lambda: {Ping.TYPE: _ping})

    def receive(self, raw: bytes) -> bytes:
        """One envelope in, the bytes of the Ack envelope out; RemoteProtocolError if refused."""
        envelope = parse_envelope(raw)
        check_recipient(envelope, self.node.node_id)
        verify_envelope(envelope)
        peer = peer_store.active_peer(self.node.conn, envelope.sender)
        if peer is None:
            raise UnknownPeer("the sender is not a peer of this node")
        now = self.clock()
        check_clock(envelope, now=now)
        if peer_store.seen_message(self.node.conn, envelope.sender, envelope.id):
            raise Replayed("this message was received before")
        message = open_envelope(envelope, recipient=self.node.keys,
                                sender_box_key=b64u_decode(peer["box_key"]))
        handler = self.handlers.get(message.TYPE)
        if handler is None:
            raise MalformedMessage(f"{message.TYPE} is not accepted at the inbox")
        with db.transaction(self.node.conn) as conn:
            if not peer_store.remember_message(conn, envelope.sender, envelope.id, now):
                raise Replayed("this message was received before")
            detail = handler(self.node, peer, message)
            peer_store.forget_messages_before(conn, now - 2 * CLOCK_WINDOW_SECONDS - 60)
        return self._ack(envelope, peer, detail, now).to_bytes()

    def _ack(self, envelope: Envelope, peer: sqlite3.Row, detail: dict[str, object],
             now: int) -> Envelope:
        return seal(
            sender=self.node.keys,
            recipient_id=envelope.sender,
            recipient_box_key=b64u_decode(peer["box_key"]),
            message=Ack(message_id=envelope.id, status="ok", detail=detail),
            message_id=clocks.random_bytes(16),
            nonce=clocks.random_bytes(24),
            created=now,
        )
