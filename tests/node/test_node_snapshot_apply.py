"""A snapshot chunk (protocol/snapshot.py) applied through the real batch handler ends
exactly as the same people sent as items do, and gets every check an item gets:
versions against `received`, tombstones, matching, the terms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Tagshare
from received_helpers import Peer

from tagshare.node.handlers import HANDLERS
from tagshare.node.ids import uuid7
from tagshare.node.node import open_node
from tagshare.node.people import search_people
from tagshare.node.storage import db
from tagshare.node.storage import peers as peers_store
from tagshare.protocol import Item, MalformedMessage, ShareBatch
from tagshare.protocol.encoding import b64u_encode
from tagshare.protocol.shares import PERSON_COLUMNS
from tagshare.protocol.snapshot import Snapshot

EPOCH = b64u_encode(bytes(16))
ALL = ["name", "email", "phone", "address", "contacts", "donations"]
AT = "2026-10-03T14:30:00.000Z"


class Granter(Peer):
    """The state party, granting every field group, sending through `on_batch`."""

    def __init__(self, home: Path, fields: list[str] = ALL) -> None:
        super().__init__(home, "State Party", local_tag="party")
        self.seq = 0
        with _opened(home) as node, db.transaction(node.conn) as conn:
            conn.execute("UPDATE shares SET fields = ? WHERE id = ?",
                         (json.dumps(fields), self.share))

    def batch(self, items: tuple[Item, ...] = (), snapshot: Snapshot | None = None) -> int:
        self.seq += 1
        message = ShareBatch(share=self.share, epoch=EPOCH, seq=self.seq, terms=1,
                             items=items, snapshot=snapshot)
        with _opened(self.home) as node, db.transaction(node.conn) as conn:
            peer = peers_store.get_peer(conn, self.node_id)
            return int(HANDLERS[ShareBatch.TYPE](node, peer, message)["applied"])


class _opened:
    def __init__(self, home: Path) -> None:
        self.node = open_node(home)

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self.node

    def __exit__(self, *exc: object) -> None:
        self.node.close()


def people(n: int) -> list[tuple[str, int, dict[str, str | None]]]:
    """n people with every field; the first carries a local person's email."""
    return [(uuid7(), 1, {"first_name": f"First{i}", "last_name": "Doe",
                          "email": "ann@example.org" if i == 0 else f"p{i}@example.org",
                          "phone": None, "address1": f"{i} Main St", "address2": None,
                          "city": "Columbus", "state": "OH", "zip": "43215"})
            for i in range(n)]


def records(crowd: list[tuple[str, int, dict[str, str | None]]]) -> dict[str, tuple]:
    """A door contact on every other person, a donation on every third."""
    contacts = {uuid: ({"uuid": uuid7(), "method": "door", "outcome": "home", "note": None,
                        "at": AT, "by": "Sam"},) if i % 2 == 0 else ()
                for i, (uuid, _, _) in enumerate(crowd)}
    donations = {uuid: ({"uuid": uuid7(), "amount_cents": 100 + i, "currency": "USD",
                         "at": AT},) if i % 3 == 0 else ()
                 for i, (uuid, _, _) in enumerate(crowd)}
    return {"contacts": contacts, "donations": donations}


def as_items(crowd, extra) -> tuple[Item, ...]:  # type: ignore[no-untyped-def]
    return tuple(Item(op="upsert", uuid=uuid, version=version, fields=fields,
                      contacts=extra["contacts"][uuid], donations=extra["donations"][uuid])
                 for uuid, version, fields in crowd)


def as_chunk(crowd, extra, columns=PERSON_COLUMNS) -> Snapshot:  # type: ignore[no-untyped-def]
    return Snapshot(
        columns=tuple(columns),
        rows=tuple((uuid, version, *[fields[c] for c in columns])
                   for uuid, version, fields in crowd),
        contacts=tuple((uuid, *r.values()) for uuid, _, _ in crowd
                       for r in extra["contacts"][uuid]),
        donations=tuple((uuid, *r.values()) for uuid, _, _ in crowd
                        for r in extra["donations"][uuid]))


def end_state(node: Tagshare) -> dict[str, object]:
    """What the node holds of the granter's people, by the granter's uuids."""
    with node.db() as conn:
        local = {row["uuid"]: row["origin_uuid"] or "local"
                 for row in conn.execute("SELECT uuid, origin_uuid FROM people")}
        return {
            "people": sorted(
                (row["origin_uuid"], *[row[c] for c in PERSON_COLUMNS],
                 local.get(row["link"]))
                for row in conn.execute("SELECT * FROM people WHERE origin IS NOT NULL")),
            "received": sorted((r["origin_uuid"], r["version"], local[r["person"]], r["state"],
                                r["epoch"]) for r in conn.execute("SELECT * FROM received")),
            "taggings": sorted(local[r[0]] for r in conn.execute(
                "SELECT person FROM taggings t JOIN tags g ON g.id = t.tag "
                "WHERE g.name = 'party'")),
            "contacts": sorted((r["uuid"], local[r["person"]], r["origin"], r["method"])
                               for r in conn.execute("SELECT * FROM contacts")),
            "donations": sorted((r["uuid"], local[r["person"]], r["origin"], r["amount_cents"])
                                for r in conn.execute("SELECT * FROM donations")),
        }


def other_node(tmp_path: Path, name: str) -> Tagshare:
    node = Tagshare(tmp_path / name)
    node.ok("init", "--name", name)
    node.add("--first-name", "Ann", "--email", "ann@example.org")
    return node


def test_a_chunk_ends_as_the_same_people_sent_as_items(tmp_path: Path) -> None:
    crowd = people(300)
    extra = records(crowd)
    by_items, by_chunk = other_node(tmp_path, "items"), other_node(tmp_path, "chunk")
    assert Granter(by_items.home).batch(items=as_items(crowd, extra)) == 300
    assert Granter(by_chunk.home).batch(snapshot=as_chunk(crowd, extra)) == 300
    chunked = end_state(by_chunk)
    assert chunked == end_state(by_items)
    assert len(chunked["people"]) == 300 and len(chunked["contacts"]) == 150  # type: ignore[arg-type]
    assert chunked["people"][0][-1] in (None, "local")  # type: ignore[index]
    linked = [row for row in chunked["people"] if row[-1] == "local"]  # type: ignore[union-attr]
    assert [row[3] for row in linked] == ["ann@example.org"]  # matched on email, only Ann
    with _opened(by_chunk.home) as node:
        found = search_people(node, "First17")
    assert sorted(person["first_name"] for person in found) == sorted(
        f"First{i}" for i in range(300) if str(i).startswith("17"))  # words match as prefixes


@pytest.fixture
def subscriber(tmp_path: Path) -> Tagshare:
    return other_node(tmp_path, "subscriber")


def test_a_replayed_or_older_chunk_changes_nothing(subscriber: Tagshare) -> None:
    granter = Granter(subscriber.home)
    crowd = people(20)
    extra = records(crowd)
    newer = [(uuid, 5, fields) for uuid, _, fields in crowd]
    assert granter.batch(snapshot=as_chunk(newer, extra)) == 20
    before = end_state(subscriber)
    assert granter.batch(snapshot=as_chunk(newer, extra)) == 0  # replayed
    older = [(uuid, 4, {**fields, "first_name": "Stale"}) for uuid, _, fields in crowd]
    assert granter.batch(snapshot=as_chunk(older, records(crowd))) == 0
    assert end_state(subscriber) == before


def test_a_newer_live_edit_that_came_first_is_kept(subscriber: Tagshare) -> None:
    granter = Granter(subscriber.home)
    crowd = people(5)
    extra = records(crowd)
    uuid, _, fields = crowd[2]
    granter.batch(items=(Item(op="upsert", uuid=uuid, version=9,
                              fields={**fields, "first_name": "Edited"},
                              contacts=(), donations=()),))
    assert granter.batch(snapshot=as_chunk([(u, 3, f) for u, _, f in crowd], extra)) == 4
    with subscriber.db() as conn:
        name, version = conn.execute(
            "SELECT p.first_name, r.version FROM received r JOIN people p ON p.uuid = r.person "
            "WHERE r.origin_uuid = ?", (uuid,)).fetchone()
    assert (name, version) == ("Edited", 9)


def test_an_erased_person_never_comes_back_in_a_chunk(subscriber: Tagshare) -> None:
    granter = Granter(subscriber.home)
    crowd = people(3)
    granter.batch(snapshot=as_chunk(crowd, records(crowd)))
    gone = crowd[1][0]
    granter.batch(items=(Item(op="erase", uuid=gone, version=2),))
    again = [(uuid, 7, fields) for uuid, _, fields in crowd]
    assert granter.batch(snapshot=as_chunk(again, records(crowd))) == 2
    with subscriber.db() as conn:
        origin_uuids = {r[0] for r in conn.execute(
            "SELECT origin_uuid FROM people WHERE origin IS NOT NULL")}
        state = conn.execute("SELECT state, person FROM received WHERE origin_uuid = ?",
                             (gone,)).fetchone()
    assert gone not in origin_uuids and len(origin_uuids) == 2
    assert tuple(state) == ("erased", None)


@pytest.mark.parametrize("fields,columns", [
    (["name", "email", "contacts", "donations"], PERSON_COLUMNS),  # address beyond terms
    (["name", "email", "phone", "address", "donations"], PERSON_COLUMNS),  # contacts too
])
def test_a_chunk_beyond_the_terms_is_refused_with_nothing_written(
        subscriber: Tagshare, fields: list[str], columns: tuple[str, ...]) -> None:
    granter = Granter(subscriber.home, fields)
    crowd = people(10)
    before = end_state(subscriber)
    with pytest.raises(MalformedMessage, match="outside the share|terms"):
        granter.batch(items=(Item(op="erase", uuid=uuid7(), version=1),),
                      snapshot=as_chunk(crowd, records(crowd), columns))
    assert end_state(subscriber) == before
    assert subscriber.count("people") == 1


def test_the_columns_the_terms_no_longer_grant_are_not_written(subscriber: Tagshare) -> None:
    granter = Granter(subscriber.home, ["name", "email", "contacts", "donations"])
    crowd = people(2)
    with _opened(subscriber.home) as node, db.transaction(node.conn) as conn:
        conn.execute("INSERT OR REPLACE INTO share_terms (share, version, fields, on_revoke, "
                     "proposed_at, accepted_at) VALUES (?, 1, ?, 'keep', ?, ?)",
                     (granter.share, json.dumps(ALL), AT, AT))
        conn.execute("UPDATE shares SET terms_version = 2 WHERE id = ?", (granter.share,))
    granter.seq += 1
    message = ShareBatch(share=granter.share, epoch=EPOCH, seq=granter.seq, terms=1, items=(),
                         snapshot=as_chunk(crowd, records(crowd)))
    with _opened(subscriber.home) as node, db.transaction(node.conn) as conn:
        HANDLERS[ShareBatch.TYPE](node, peers_store.get_peer(conn, granter.node_id), message)
    with subscriber.db() as conn:
        kept = conn.execute("SELECT count(*) FROM people WHERE origin IS NOT NULL "
                            "AND address1 IS NULL AND first_name IS NOT NULL").fetchone()[0]
    assert kept == 2
