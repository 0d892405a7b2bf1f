"""The granter's snapshot chunks (node/snapshot.py), on one real node: the outbox stays
the cursor, only plain upserts go in columns, a chunk never outgrows a message, and a
stored value the protocol refuses is parked, never sent, without holding up the rest."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from test_node_delivery_rules import SubscriberSeam, honest

from tagshare.node import outgoing
from tagshare.node import snapshot as node_snapshot
from tagshare.node.client import FederationClient
from tagshare.node.courier import Courier
from tagshare.node.handlers import HANDLERS
from tagshare.node.identity import node_document
from tagshare.node.ids import uuid7
from tagshare.node.node import init_node
from tagshare.node.outgoing import BATCH_ITEMS, build_batch, pull_answer
from tagshare.node.pairing import _store_peer
from tagshare.node.peers import takes_snapshots
from tagshare.node.shares import grant_share
from tagshare.node.storage import db
from tagshare.node.storage import peers as peer_store
from tagshare.node.storage import people as people_store
from tagshare.node.storage.outbox import PARKED
from tagshare.node.sync import CHUNKS_IN_FLIGHT, PIPELINE, SyncWorker
from tagshare.protocol import ShareAccept, ShareBatch, open_envelope, parse_envelope

NOW = 1_800_000_000
PEOPLE = 1500
AT = "2026-01-01T00:00:00Z"


class Granter:
    def __init__(self, root: Path, count: int = PEOPLE) -> None:
        self.node = init_node(root / "granter", name="County Party", url="https://party.example")
        self.subscriber = init_node(root / "sub", name="Campaign", url="https://c.example")
        conn = self.node.conn
        with db.transaction(conn):
            _store_peer(conn, node_document(self.subscriber, NOW), alias=None,
                        auto_accept=False)
            tag_id = people_store.tag_id(conn, "volunteers", create=True) or 0
            rows = [{"uuid": uuid7(), "first_name": f"P{i}", "email": f"p{i}@example.org",
                     "created_at": AT, "updated_at": AT} for i in range(count)]
            people_store.insert_people(conn, rows)
            people_store.add_taggings(conn, [(tag_id, str(r["uuid"])) for r in rows])
            conn.executemany("INSERT INTO contacts (uuid, person, method, at) "
                             "VALUES (?, ?, 'door', ?)", [(uuid7(), r["uuid"], AT) for r in rows])
        self.people = [str(r["uuid"]) for r in rows]
        self.tag_id = tag_id
        self.share = str(grant_share(self.node, tag="volunteers", peer=self.subscriber.node_id,
                                     fields="name,email,contacts", on_revoke="purge",
                                     note=None)["id"])
        with db.transaction(conn):
            peer = peer_store.active_peer(conn, self.subscriber.node_id)
            HANDLERS[ShareAccept.TYPE](self.node, peer, ShareAccept(share=self.share, pull=False))

    def pending(self) -> dict[str, int | None]:
        with closing(sqlite3.connect(self.node.home / "node.db")) as conn:
            return dict(conn.execute("SELECT person, inflight FROM pending WHERE share = ?",
                                     (self.share,)).fetchall())

    def close(self) -> None:
        self.node.close()
        self.subscriber.close()


@pytest.fixture
def granter(tmp_path: Path) -> Iterator[Granter]:
    setup = Granter(tmp_path)
    yield setup
    setup.close()


def test_a_chunk_carries_the_plain_people_in_columns_and_the_rest_as_items(
        granter: Granter) -> None:
    untagged = granter.people[7]
    with db.transaction(granter.node.conn) as conn:
        conn.execute("DELETE FROM taggings WHERE person = ?", (untagged,))
    batch = build_batch(granter.node, granter.share, snapshots=True)
    assert batch is not None and batch.snapshot is not None
    assert batch.snapshot.columns == ("first_name", "last_name", "email")
    assert sorted(batch.snapshot.uuids()) == sorted(set(granter.people) - {untagged})
    assert [(item.op, item.uuid) for item in batch.items] == [("withdraw", untagged)]
    contacts = batch.snapshot.records("contacts") or {}
    assert all(len(contacts[uuid]) == 1 for uuid in batch.snapshot.uuids())
    assert batch.snapshot.donations is None  # not granted
    assert set(granter.pending().values()) == {batch.seq}  # the outbox is the cursor
    assert build_batch(granter.node, granter.share, snapshots=True) is None


def test_a_peer_without_snapshots_gets_ordinary_batches(granter: Granter) -> None:
    batch = build_batch(granter.node, granter.share)
    assert batch is not None and batch.snapshot is None
    assert len(batch.items) == BATCH_ITEMS


def test_a_chunk_too_large_for_a_message_is_halved_and_the_rest_waits(
        granter: Granter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(node_snapshot, "CHUNK_BYTES", 60_000)
    first = build_batch(granter.node, granter.share, snapshots=True)
    assert first is not None and first.snapshot is not None
    carried = set(first.uuids())
    assert 0 < len(carried) < PEOPLE
    assert len(orjson.dumps(first.snapshot.to_dict())) <= 60_000
    ready = {p for p, inflight in granter.pending().items() if inflight is None}
    assert ready == set(granter.people) - carried
    while (batch := build_batch(granter.node, granter.share, snapshots=True)) is not None:
        assert carried.isdisjoint(batch.uuids())
        carried |= set(batch.uuids())
    assert carried == set(granter.people)


def test_a_value_the_protocol_refuses_is_parked_and_the_rest_goes(granter: Granter) -> None:
    bad = granter.people[3]
    with db.transaction(granter.node.conn) as conn:  # written by another tool
        conn.execute("UPDATE people SET first_name = ? WHERE uuid = ?", ("x" * 2001, bad))
    batch = build_batch(granter.node, granter.share, snapshots=True)
    assert batch is not None and batch.snapshot is None
    assert sorted(item.uuid for item in batch.items) == sorted(set(granter.people) - {bad})
    assert granter.pending()[bad] == PARKED
    assert build_batch(granter.node, granter.share, snapshots=True) is None


def test_every_batch_carries_exactly_the_rows_in_flight_under_its_seq(
        granter: Granter, monkeypatch: pytest.MonkeyPatch) -> None:
    """Halved chunks and a value that cannot travel together: each batch names exactly
    the people its ack will settle, everyone goes once, the bad one is parked."""
    monkeypatch.setattr(node_snapshot, "CHUNK_BYTES", 60_000)
    bad = granter.people[0]  # in the first half, kept while the chunk is halved
    with db.transaction(granter.node.conn) as conn:
        conn.execute("UPDATE people SET first_name = ? WHERE uuid = ?", ("x" * 2001, bad))
    carried: list[str] = []
    while (batch := build_batch(granter.node, granter.share, snapshots=True)) is not None:
        in_flight = {p for p, seq in granter.pending().items() if seq == batch.seq}
        assert set(batch.uuids()) == in_flight
        carried += batch.uuids()
    assert sorted(carried) == sorted(set(granter.people) - {bad})
    assert granter.pending()[bad] == PARKED


def test_a_pull_gets_ordinary_batches(granter: Granter) -> None:
    """A subscriber nobody can reach pulls through outbox.pull: whatever its document
    says, the answer carries ordinary batches only."""
    with db.transaction(granter.node.conn) as conn:
        peer = peer_store.active_peer(conn, granter.subscriber.node_id)
    assert takes_snapshots(peer)
    answer = pull_answer(granter.node, peer)
    [batch] = [entry.message for entry in answer.entries if entry.ref == 0]
    assert isinstance(batch, ShareBatch) and batch.snapshot is None
    assert len(batch.items) == BATCH_ITEMS


@dataclass
class BusySubscriber(SubscriberSeam):
    """Takes 50 ms to answer each message; counts the chunks it holds at once."""

    holding: int = 0
    most: int = 0

    async def post(self, url: str, body: bytes,
                   tls_sha256: str | None = None) -> tuple[int, bytes]:
        message = open_envelope(parse_envelope(body), recipient=self.subscriber.keys,
                                sender_box_key=self.granter.keys.box_public)
        chunk = isinstance(message, ShareBatch) and message.snapshot is not None
        self.holding += chunk
        self.most = max(self.most, self.holding)
        try:
            await asyncio.sleep(0.05)
            return await super().post(url, body, tls_sha256)
        finally:
            self.holding -= chunk


def test_at_most_two_chunks_are_in_flight(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks hold memory on both sides: however many a share owes, at most
    CHUNKS_IN_FLIGHT of them are out at once (ordinary batches pipeline as before)."""
    monkeypatch.setattr(outgoing, "CHUNK_PEOPLE", 1200)  # 4 chunks and a batch of 5,000
    setup = Granter(tmp_path, count=5000)
    seam = BusySubscriber(setup.subscriber, setup.node, honest)

    async def run() -> None:
        with ThreadPoolExecutor(max_workers=1) as executor:
            courier = Courier(setup.node, FederationClient(seam), clock=lambda: NOW)
            worker = SyncWorker(setup.node, courier, executor=executor, pull=False,
                                clock=lambda: float(NOW))
            await worker.deliver(setup.subscriber.node_id)

    try:
        asyncio.run(run())
        assert setup.pending() == {}  # everyone delivered and settled
    finally:
        setup.close()
    batches = [m for m in seam.received if isinstance(m, ShareBatch)]
    assert [b.snapshot is not None for b in batches].count(True) == 4
    assert seam.most == CHUNKS_IN_FLIGHT < PIPELINE
