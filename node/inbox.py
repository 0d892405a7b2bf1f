"""Receiving envelopes: the inbox's checks, in the order the protocol fixes.

    size -> JSON shape -> recipient -> signature -> known peer -> clock
         -> not seen before -> decrypt -> apply + remember id (one transaction)
         -> signed, encrypted answer to the sender

Nothing is read from the database before the signature is verified, nothing
is decrypted before the sender is known to be a peer, and the message id is
recorded in the same transaction that applies the message, so a replay can
never apply twice. The same checks guard the outbox (pulls), whose answer is
the pulled messages instead of an Ack.

A large envelope may be decrypted in another process (node/decoder.py): `vet` runs
every check before the decrypt, the worker opens it with the shared keys `vet` names,
and `receive_opened` looks the peer up again (it may have been removed meanwhile)
before the one transaction that applies the message and records its id.

After a key rotation, a peer that seals to our new encryption key has read our
`key.rotate` (pushed or pulled): what is still queued of it for that peer is
dropped, and the old keys go once no peer is owed one. A pull sealed to the
old key is answered with the old keys, the only ones that peer can check.
"""

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from tagshare.node import clock as clocks
from tagshare.node.keys import forget_previous_keys
from tagshare.node.node import Node
from tagshare.node.refusals import Replayed, UnknownPeer
from tagshare.node.storage import db
from tagshare.node.storage import outbox as outbox_store
from tagshare.node.storage import peers as peer_store
from tagshare.protocol import (
    CLOCK_WINDOW_SECONDS,
    Ack,
    Envelope,
    KeyRotate,
    MalformedMessage,
    Message,
    NodeKeys,
    b64u_decode,
    check_clock,
    check_recipient,
    open_with_keys,
    parse_envelope,
    seal,
    shared_key,
    verify_envelope,
)

# A handler applies one message from one peer inside the inbox's transaction
# and returns the Ack's detail.
Handler = Callable[[Node, sqlite3.Row, Message], dict[str, object]]
# A puller answers an outbox pull with the message to send back.
Puller = Callable[[Node, sqlite3.Row], Message]


@dataclass
class Vetted:
    """A checked envelope from a peer, within the clock window, not seen before: ready
    to decrypt, with one of `keys` (the Box keys of ours and the sender's: current
    first, then those a rotation replaced; `ours` are our box keys of each)."""

    envelope: Envelope
    peer: sqlite3.Row
    now: int
    keys: list[bytes]
    ours: list[bytes]


@dataclass
class Admitted:
    envelope: Envelope
    peer: sqlite3.Row
    message: Message
    now: int
    old_keys: bool = False  # sealed to the encryption key a rotation replaced


@dataclass
class Inbox:
    node: Node
    handlers: dict[str, Handler]
    clock: clocks.Clock = clocks.system_clock
    puller: Puller | None = None
    on_commit: Callable[[], None] = lambda: None

    def check(self, raw: bytes) -> Envelope:
        """The checks that need no database (shape, recipient, signature), so that they
        can run beside the database thread: a big or hostile body holds up no one else.
        `peer_signing_keys` must have been read once before (the server does at start)."""
        envelope = parse_envelope(raw)
        check_recipient(envelope, self.node.node_id)
        verify_envelope(envelope, self.node.peer_signing_keys.get(envelope.sender))
        return envelope

    def vet(self, envelope: Envelope) -> Vetted:
        """The checks before decrypting a `check`ed envelope (known peer, clock, not a
        replay), or RemoteProtocolError."""
        peer = self._peer(envelope)
        now = self.clock()
        check_clock(envelope, now=now)
        if peer_store.seen_message(self.node.conn, envelope.sender, envelope.id):
            raise Replayed("this message was received before")
        ours = our_keys(self.node)
        sender_box_key = b64u_decode(peer["box_key"])
        return Vetted(envelope, peer, now, [shared_key(keys, sender_box_key) for keys in ours],
                      [keys.box_public for keys in ours])

    def admit(self, envelope: Envelope) -> Admitted:
        """The remaining checks on a `check`ed envelope; the decrypted message of a peer,
        or RemoteProtocolError."""
        vetted = self.vet(envelope)
        message, index = open_with_keys(envelope, vetted.keys)
        return Admitted(envelope, vetted.peer, message, vetted.now, self._old(vetted, index))

    def receive(self, envelope: Envelope) -> bytes:
        """One `check`ed envelope in, the bytes of the Ack envelope out."""
        return self._apply(self.admit(envelope))

    def receive_opened(self, vetted: Vetted, message: Message, key_index: int) -> bytes:
        """A `vet`ted envelope that `vetted.keys[key_index]` opened elsewhere into
        `message`: as `receive`, if its sender is still a peer."""
        peer = self._peer(vetted.envelope)
        return self._apply(Admitted(vetted.envelope, peer, message, vetted.now,
                                    self._old(vetted, key_index)))

    def _old(self, vetted: Vetted, key_index: int) -> bool:
        """Whether the keys that opened the envelope are no longer our current ones. Asked
        of the keys as they are now, not as `vet` found them: a rotation written by another
        process in between makes the keys that were current the replaced ones, and a pull
        sealed to them must be answered with them and must not count as the peer having
        read our key.rotate (that would drop it and forget the keys the peer still uses)."""
        return vetted.ours[key_index] != self.node.keys.box_public

    def _peer(self, envelope: Envelope) -> sqlite3.Row:
        peer = peer_store.active_peer(self.node.conn, envelope.sender)
        if peer is None:
            raise UnknownPeer("the sender is not a peer of this node")
        return peer

    def _apply(self, admitted: Admitted) -> bytes:
        handler = self.handlers.get(admitted.message.TYPE)
        if handler is None:
            raise MalformedMessage(f"{admitted.message.TYPE} is not accepted at the inbox")
        with db.transaction(self.node.conn):
            self._remember(admitted)
            heard = self._rotation_heard(admitted)
            detail = handler(self.node, admitted.peer, admitted.message)
        if heard:
            forget_previous_keys(self.node)
        self.on_commit()
        ack = Ack(message_id=admitted.envelope.id, status="ok", detail=detail)
        return self.reply(admitted, ack).to_bytes()

    def serve_pull(self, envelope: Envelope) -> bytes:
        """A `check`ed outbox pull in, the envelope of what is waiting for that peer out."""
        admitted = self.admit(envelope)
        if self.puller is None or admitted.message.TYPE != "outbox.pull":
            raise MalformedMessage("only outbox.pull is accepted at the outbox")
        with db.transaction(self.node.conn):
            self._remember(admitted)
            heard = self._rotation_heard(admitted)
        if heard:
            forget_previous_keys(self.node)
        answer = self.puller(self.node, admitted.peer)
        # A puller that knows only our old keys (its key.rotate is in this answer) gets the
        # answer sealed with them, like a pushed key.rotate.
        keys = self.node.key_state.previous if admitted.old_keys else None
        return self.reply(admitted, answer, keys).to_bytes()

    def _rotation_heard(self, admitted: Admitted) -> bool:
        """A peer that sealed to our new key read our key.rotate: drop what waits of it.
        True if that may leave no peer owed one (the old keys can then go, after commit)."""
        if admitted.old_keys or self.node.key_state.previous is None:
            return False
        return outbox_store.drop_queued(self.node.conn, admitted.peer["node_id"],
                                        KeyRotate.TYPE) > 0

    def _remember(self, admitted: Admitted) -> None:
        conn = self.node.conn
        envelope = admitted.envelope
        if not peer_store.remember_message(conn, envelope.sender, envelope.id, admitted.now):
            raise Replayed("this message was received before")
        peer_store.forget_messages_before(conn, admitted.now - 2 * CLOCK_WINDOW_SECONDS - 60)

    def reply(self, admitted: Admitted, message: Message,
              keys: NodeKeys | None = None) -> Envelope:
        return seal(
            sender=keys or self.node.keys,
            recipient_id=admitted.envelope.sender,
            recipient_box_key=b64u_decode(admitted.peer["box_key"]),
            message=message,
            message_id=clocks.random_bytes(16),
            nonce=clocks.random_bytes(24),
            created=admitted.now,
        )


def open_for_me(node: Node, envelope: Envelope, sender_box_key: bytes) -> Message:
    """Decrypt with the current keys, or, right after a rotation, with the keys they
    replaced (a peer may not have heard of the rotation yet)."""
    return open_sealed(node, envelope, sender_box_key)[0]


def open_sealed(node: Node, envelope: Envelope, sender_box_key: bytes) -> tuple[Message, bool]:
    """As open_for_me, and whether it took the replaced keys."""
    check_recipient(envelope, node.node_id)
    keys = [shared_key(ours, sender_box_key) for ours in our_keys(node)]
    message, index = open_with_keys(envelope, keys)
    return message, index > 0


def our_keys(node: Node) -> list[NodeKeys]:
    """The keys a peer may have sealed to: the current ones, then (right after a rotation)
    those they replaced."""
    previous = node.key_state.previous
    return [node.keys] if previous is None else [node.keys, previous]
