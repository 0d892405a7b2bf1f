"""Sending one message to a peer and checking its signed answer.

Every answer is verified like any inbound envelope: addressed to us, signed
by the peer we wrote to, fresh, decryptable with the peer's key, and (for an
Ack) naming the message we sent. Anything else is a delivery failure, and
the sender keeps what it owes.
"""

import sqlite3

from tagshare.node import clock as clocks
from tagshare.node.client import FederationClient
from tagshare.node.inbox import open_for_me
from tagshare.node.node import Node
from tagshare.node.tls import pinned_sha256
from tagshare.protocol import (
    Ack,
    BadSignature,
    MalformedMessage,
    Message,
    NodeKeys,
    OutboxItems,
    OutboxPull,
    b64u_decode,
    check_ack,
    check_clock,
    check_recipient,
    parse_envelope,
    seal,
    verify_envelope,
)

INBOX_PATH = "/federation/v1/inbox"
OUTBOX_PATH = "/federation/v1/outbox"


class Courier:
    def __init__(self, node: Node, client: FederationClient,
                 clock: clocks.Clock = clocks.system_clock) -> None:
        self.node = node
        self.client = client
        self.clock = clock

    def _seal(self, peer: sqlite3.Row, message: Message,
              keys: NodeKeys | None = None) -> tuple[str, bytes]:
        envelope = seal(sender=keys or self.node.keys, recipient_id=peer["node_id"],
                        recipient_box_key=b64u_decode(peer["box_key"]), message=message,
                        message_id=clocks.random_bytes(16), nonce=clocks.random_bytes(24),
                        created=self.clock())
        return envelope.id, envelope.to_bytes()

    async def send(self, peer: sqlite3.Row, message: Message,
                   keys: NodeKeys | None = None) -> Ack:
        """Deliver to the peer's inbox; the peer's verified, successful Ack for exactly this
        message (NotAcknowledged otherwise: the message is still owed).
        `keys`: seal with these (the keys a rotation replaced, for `key.rotate`)."""
        message_id, body = self._seal(peer, message, keys)
        raw = await self.client.post(peer["url"], INBOX_PATH, body, pinned_sha256(peer))
        answer = self.open_answer(peer, raw)
        if not isinstance(answer, Ack) or answer.message_id != message_id:
            raise MalformedMessage("the answer is not an ack of the message sent")
        check_ack(message, answer)
        return answer

    async def pull(self, peer: sqlite3.Row) -> OutboxItems:
        """Ask a granter for what it holds for us."""
        _, body = self._seal(peer, OutboxPull())
        raw = await self.client.post(peer["url"], OUTBOX_PATH, body, pinned_sha256(peer))
        answer = self.open_answer(peer, raw)
        if not isinstance(answer, OutboxItems):
            raise MalformedMessage("the answer to a pull is not outbox.items")
        return answer

    def open_answer(self, peer: sqlite3.Row, raw: bytes) -> Message:
        envelope = parse_envelope(raw)
        check_recipient(envelope, self.node.node_id)
        if envelope.sender != peer["node_id"]:
            raise BadSignature("the answer was signed by another node")
        verify_envelope(envelope, peer["signing_key"])
        check_clock(envelope, now=self.clock())
        return open_for_me(self.node, envelope, b64u_decode(peer["box_key"]))
