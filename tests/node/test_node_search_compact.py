"""The search index is compacted after bulk writes (node/storage/search.py).

A share's first sync or an import leaves the index in many segments, and every small
write after it pays for merging them. Once COMPACT_AFTER people were added in bulk, the
node closing it (every CLI command) or the serving node, once quiet, merges it into one
segment; below that, nothing is rewritten. Search finds the same people before and after.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from received_helpers import Peer

from tagshare.node import csvio
from tagshare.node.ids import uuid7
from tagshare.node.node import Node, init_node, open_node
from tagshare.node.received import apply_items
from tagshare.node.server import create_app
from tagshare.node.storage import db, search
from tagshare.node.storage import shares as shares_store
from tagshare.protocol import Item

BATCHES, PER_BATCH = 4, 10


def segments(home: Path) -> int:
    with closing(sqlite3.connect(home / "node.db")) as conn:
        return int(conn.execute("SELECT count(DISTINCT segid) FROM people_fts_idx").fetchone()[0])


def receive_batches(node: Node, peer: Peer) -> list[str]:
    """BATCHES batches of PER_BATCH new copies from the peer, a transaction each (as a
    first sync arrives); their origin uuids."""
    sent = []
    for batch in range(BATCHES):
        items = []
        for n in range(PER_BATCH):
            peer.version += 1
            sent.append(uuid7())
            items.append(Item(op="upsert", uuid=sent[-1], version=peer.version,
                              fields={"first_name": f"Copy{batch}x{n}", "last_name": "Bulk"},
                              contacts=()))
        with db.transaction(node.conn) as conn:
            apply_items(node, conn, shares_store.get_share(conn, peer.share), tuple(items))
    return sent


def found(node: Node, query: str) -> int:
    return len(search.search_people(node.conn, query, limit=1000))


@pytest.fixture
def subscriber(tmp_path: Path) -> tuple[Path, Peer]:
    home = tmp_path / "subscriber"
    init_node(home, name="Campaign").close()
    return home, Peer(home, "County Party", local_tag="county:volunteers")


def test_closing_compacts_the_index_after_a_bulk_of_received_people(
        subscriber: tuple[Path, Peer], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "COMPACT_AFTER", BATCHES * PER_BATCH)
    home, peer = subscriber
    node = open_node(home)
    receive_batches(node, peer)
    assert search.compact_due(node.conn) and segments(home) > 1
    assert found(node, "bulk") == BATCHES * PER_BATCH
    node.close()
    assert segments(home) == 1
    node = open_node(home)
    try:
        assert not search.compact_due(node.conn)  # counted afresh
        assert found(node, "bulk") == BATCHES * PER_BATCH
        assert found(node, "copy2x7") == 1
    finally:
        node.close()


def test_below_the_threshold_nothing_is_rewritten(
        subscriber: tuple[Path, Peer], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "COMPACT_AFTER", BATCHES * PER_BATCH + 1)
    home, peer = subscriber
    node = open_node(home)
    receive_batches(node, peer)
    before = segments(home)
    assert not search.compact_due(node.conn) and before > 1
    node.close()
    assert segments(home) == before


def test_a_bulk_import_is_compacted_by_the_command_that_ran_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "COMPACT_AFTER", 30)
    monkeypatch.setattr(csvio, "BATCH_ROWS", 10)
    monkeypatch.setattr(csvio, "SEARCH_INDEX_ROWS", 10)
    home = tmp_path / "importer"
    init_node(home, name="County").close()
    source = tmp_path / "people.csv"
    source.write_text("first_name,last_name,email\n" + "".join(
        f"Row{n},Imported,row{n}@example.org\n" for n in range(40)))
    node = open_node(home)
    try:
        report = csvio.import_csv(node, source, tags=[])
        assert report.added == 40
        assert search.compact_due(node.conn) and segments(home) > 1
    finally:
        node.close()
    assert segments(home) == 1
    node = open_node(home)
    try:
        assert found(node, "imported") == 40 and not search.compact_due(node.conn)
    finally:
        node.close()


async def test_a_serving_node_compacts_by_itself_once_quiet(
        subscriber: tuple[Path, Peer], aiohttp_client: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "COMPACT_AFTER", BATCHES * PER_BATCH)
    home, peer = subscriber
    served = open_node(home)
    try:
        await aiohttp_client(create_app(served, sync=False))
        receive_batches(served, peer)
        assert segments(home) > 1
        for _ in range(200):
            if segments(home) == 1:
                break
            await asyncio.sleep(0.05)
        assert segments(home) == 1 and not search.compact_due(served.conn)
    finally:
        served.close()
