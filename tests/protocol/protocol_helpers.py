"""Two nodes wired together in memory (after h11's tests/helpers.py::ConnectionPair).

Fixed seeds, a fixed clock and counter-derived ids and nonces make every
byte reproducible, so tests can assert exact values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tagshare.protocol import (
    Envelope,
    Message,
    NodeDocument,
    NodeKeys,
    check_clock,
    check_recipient,
    open_envelope,
    parse_envelope,
    seal,
    sign_document,
    verify_envelope,
)
from tagshare.protocol.reshare import Grant, make_grant
from tagshare.protocol.shares import ShareOffer

NOW = 1_700_000_000
ALICE_KEYS = NodeKeys(signing_seed=bytes(range(32)), box_secret=bytes([7]) * 32)
BOB_KEYS = NodeKeys(signing_seed=bytes([7]) * 32, box_secret=bytes(range(32)))
MALLORY_KEYS = NodeKeys(signing_seed=bytes([9]) * 32, box_secret=bytes([10]) * 32)


@dataclass
class Node:
    name: str
    keys: NodeKeys
    url: str

    @property
    def document(self) -> NodeDocument:
        return sign_document(
            self.keys, name=self.name, url=self.url, created=NOW, valid_until=NOW + 86_400
        )


@dataclass
class ConnectionPair:
    """Alice and Bob, each knowing the other's ids and box keys."""

    alice: Node = field(default_factory=lambda: Node("Alice", ALICE_KEYS, "https://alice.example"))
    bob: Node = field(default_factory=lambda: Node("Bob", BOB_KEYS, "https://bob.example"))
    counter: int = 0

    def other(self, node: Node) -> Node:
        return self.bob if node is self.alice else self.alice

    def next_ids(self) -> tuple[bytes, bytes]:
        self.counter += 1
        return self.counter.to_bytes(16, "big"), self.counter.to_bytes(24, "big")

    def seal(self, sender: Node, message: Message, *, created: int = NOW) -> Envelope:
        recipient = self.other(sender)
        message_id, nonce = self.next_ids()
        return seal(
            sender=sender.keys,
            recipient_id=recipient.keys.node_id,
            recipient_box_key=recipient.keys.box_public,
            message=message,
            message_id=message_id,
            nonce=nonce,
            created=created,
        )

    def send(self, sender: Node, message: Message, *, created: int = NOW) -> bytes:
        return self.seal(sender, message, created=created).to_bytes()

    def receive(self, receiver: Node, raw: bytes, *, now: int = NOW) -> Message:
        """The full receive path, in the order the server runs it."""
        return receive(receiver.keys, self.other(receiver).keys.box_public, raw, now=now)


def receive(keys: NodeKeys, sender_box_key: bytes, raw: bytes, *, now: int = NOW) -> Message:
    env = parse_envelope(raw)
    check_recipient(env, keys.node_id)
    verify_envelope(env)
    check_clock(env, now=now)
    return open_envelope(env, recipient=keys, sender_box_key=sender_box_key)


def signed_offer(*, share: str, granter: NodeKeys = ALICE_KEYS, subscriber: str | None = None,
                 tag: str = "v", fields: tuple[str, ...] = ("name",), on_revoke: str = "purge",
                 note: str = "", epoch: str = "AAAAAAAAAAAAAAAAAAAAAA", reshare: str = "none",
                 upstream: tuple[tuple[Grant, ...], ...] = ()) -> ShareOffer:
    """A share.offer whose grant the granter really signed (to Bob by default)."""
    grant = make_grant(granter, (), subscriber=subscriber or BOB_KEYS.node_id, share=share,
                       tag=tag, fields=fields, on_revoke=on_revoke, reshare=reshare)
    return ShareOffer(share=share, tag=tag, fields=fields, on_revoke=on_revoke, note=note,
                      epoch=epoch, reshare=reshare, grant=grant, upstream=upstream)
