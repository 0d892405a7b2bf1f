"""What settles a batch and what a refusal does, on one real granter node.

The subscriber is a transport seam (the httpx MockTransport pattern) that
holds a real node's keys: it opens what the granter sends and answers with
real, signed, encrypted acks, honest or not, or with an HTTP refusal. Only a
matching, successful ack settles anything (docs/protocol.md 4.3, 9.4); one
retry rule decides what a refusal does (7.2).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tagshare.node import people
from tagshare.node.client import FederationClient
from tagshare.node.courier import Courier
from tagshare.node.handlers import HANDLERS
from tagshare.node.identity import node_document
from tagshare.node.node import Node, init_node
from tagshare.node.pairing import _store_peer
from tagshare.node.shares import grant_share
from tagshare.node.storage import db
from tagshare.node.storage import peers as peer_store
from tagshare.node.sync import MAX_RETRY, SyncWorker
from tagshare.protocol import (
    Ack,
    Message,
    ShareAccept,
    ShareBatch,
    open_envelope,
    parse_envelope,
    seal,
)

NOW = 1_800_000_000.0
Answer = Callable[[Message, str], tuple[int, bytes] | Ack]


@dataclass
class SubscriberSeam:
    """The subscriber's side of the wire: a real node's keys, answers chosen by the test."""

    subscriber: Node
    granter: Node
    answer: Answer
    received: list[Message] = field(default_factory=list)

    async def get(self, url: str, tls_sha256: str | None = None) -> tuple[int, bytes]:
        raise AssertionError(f"unexpected GET {url}")

    async def post(self, url: str, body: bytes,
                   tls_sha256: str | None = None) -> tuple[int, bytes]:
        envelope = parse_envelope(body)
        message = open_envelope(envelope, recipient=self.subscriber.keys,
                                sender_box_key=self.granter.keys.box_public)
        self.received.append(message)
        answer = self.answer(message, envelope.id)
        if not isinstance(answer, Ack):
            return answer
        reply = seal(sender=self.subscriber.keys, recipient_id=self.granter.node_id,
                     recipient_box_key=self.granter.keys.box_public, message=answer,
                     message_id=bytes(16), nonce=bytes(range(24)), created=int(NOW))
        return 200, reply.to_bytes()

    async def close(self) -> None:
        pass


def honest(message: Message, message_id: str) -> Ack:
    """What a subscriber that applied the message answers."""
    if isinstance(message, ShareBatch):
        detail: dict[str, object] = {"share": message.share, "seq": message.seq,
                                     "applied": len(message.items), "status": "active"}
    else:
        detail = {"share": getattr(message, "share", None), "status": "offered"}
    return Ack(message_id=message_id, status="ok", detail=detail)


@dataclass
class Granter:
    node: Node
    subscriber: Node
    share: str

    def pending(self) -> list[sqlite3.Row]:
        with closing(sqlite3.connect(self.node.home / "node.db")) as conn:
            conn.row_factory = sqlite3.Row
            return conn.execute("SELECT * FROM pending WHERE share = ?", (self.share,)).fetchall()

    def delivery(self) -> sqlite3.Row:
        with closing(sqlite3.connect(self.node.home / "node.db")) as conn:
            conn.row_factory = sqlite3.Row
            row: sqlite3.Row = conn.execute("SELECT * FROM delivery WHERE peer = ?",
                                            (self.subscriber.node_id,)).fetchone()
            return row

    def deliver(self, answer: Answer) -> SubscriberSeam:
        """One delivery round to the subscriber through the seam."""
        seam = SubscriberSeam(self.subscriber, self.node, answer)

        async def run() -> None:
            with ThreadPoolExecutor(max_workers=1) as executor:
                courier = Courier(self.node, FederationClient(seam), clock=lambda: int(NOW))
                worker = SyncWorker(self.node, courier, executor=executor, pull=False,
                                    clock=lambda: NOW)
                await worker.deliver(self.subscriber.node_id)

        asyncio.run(run())
        return seam


@pytest.fixture
def granter(tmp_path: Path) -> Iterator[Granter]:
    """A granter with an accepted share of `volunteers` (two people) to one subscriber,
    whose offer was already acknowledged: two pending items wait for a batch."""
    node = init_node(tmp_path / "granter", name="County Party", url="https://party.example")
    subscriber = init_node(tmp_path / "sub", name="Campaign", url="https://campaign.example")
    with db.transaction(node.conn) as conn:
        _store_peer(conn, node_document(subscriber, int(NOW)), alias=None, auto_accept=False)
    for name in ("Ann", "Bob"):
        people.add_person(node, {"first_name": name, "email": f"{name.lower()}@example.org"},
                          tags=["volunteers"])
    share = str(grant_share(node, tag="volunteers", peer=subscriber.node_id, fields="name",
                            on_revoke="purge", note=None)["id"])
    with db.transaction(node.conn) as conn:
        peer = peer_store.active_peer(conn, subscriber.node_id)
        HANDLERS[ShareAccept.TYPE](node, peer, ShareAccept(share=share, pull=False))
    setup = Granter(node, subscriber, share)
    setup.deliver(lambda message, message_id: honest(message, message_id)
                  if not isinstance(message, ShareBatch) else (503, b""))
    assert len(setup.pending()) == 2
    yield setup
    node.close()
    subscriber.close()


def _ack(status: str, detail: Callable[[ShareBatch], dict[str, object]]) -> Answer:
    def answer(message: Message, message_id: str) -> tuple[int, bytes] | Ack:
        if not isinstance(message, ShareBatch):
            return honest(message, message_id)
        return Ack(message_id=message_id, status=status, detail=detail(message))
    return answer


def _good(batch: ShareBatch) -> dict[str, object]:
    return {"share": batch.share, "seq": batch.seq, "applied": len(batch.items),
            "status": "active"}


HOSTILE_ACKS: dict[str, Answer] = {
    "status error": _ack("error", _good),
    "status error, empty detail": _ack("error", lambda b: {}),
    "empty detail": _ack("ok", lambda b: {}),
    "wrong seq": _ack("ok", lambda b: {**_good(b), "seq": b.seq + 1}),
    "seq as true": _ack("ok", lambda b: {**_good(b), "seq": True} if b.seq == 1 else {}),
    "another share": _ack("ok", lambda b: {**_good(b),
                                           "share": "01900000-0000-7000-8000-000000000000"}),
    "no applied count": _ack("ok", lambda b: {k: v for k, v in _good(b).items()
                                              if k != "applied"}),
    "negative applied": _ack("ok", lambda b: {**_good(b), "applied": -1}),
    "share not active there": _ack("ok", lambda b: {**_good(b), "applied": 0,
                                                    "status": "revoked"}),
}


@pytest.mark.parametrize("hostile", HOSTILE_ACKS, ids=list(HOSTILE_ACKS))
def test_only_a_matching_successful_ack_settles_a_batch(granter: Granter, hostile: str) -> None:
    seam = granter.deliver(HOSTILE_ACKS[hostile])
    assert any(isinstance(m, ShareBatch) for m in seam.received), "a batch was sent"
    rows = granter.pending()
    assert len(rows) == 2, f"{hostile}: the pending items were settled"
    assert all(row["inflight"] is None for row in rows)  # they go again
    state = granter.delivery()
    assert state["last_error"] and state["parked"] == 0
    assert state["next_attempt"] < NOW + MAX_RETRY  # retried with backoff, not parked

    granter.deliver(_ack("ok", _good))  # the same items, acknowledged properly
    assert granter.pending() == []
    assert granter.delivery()["last_error"] is None


RETRIED = (401, 408, 429, 500, 502, 503, 504)
PARKED = (400, 403, 404, 405, 409, 413, 421)


@pytest.mark.parametrize("status", RETRIED + PARKED)
def test_one_retry_rule_for_every_refusal(granter: Granter, status: int) -> None:
    body = json.dumps({"error": "internal" if status >= 500 else "refused",
                       "message": "no"}).encode()
    granter.deliver(lambda message, message_id: (status, body))
    state = granter.delivery()
    delay = state["next_attempt"] - NOW
    if status in RETRIED:
        assert state["parked"] == 0 and delay < 60, (status, delay)
    else:
        assert state["parked"] == 1 and delay == MAX_RETRY, (status, delay)
    assert len(granter.pending()) == 2  # nothing is ever dropped
