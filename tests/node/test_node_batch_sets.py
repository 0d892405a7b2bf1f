"""A received batch is applied as sets (node/storage/staged.py): one batch mixing new
people, a changed copy, a person that attaches to one of ours, the same person twice
and a stale version ends exactly as the rules say, and leaves nothing staged behind."""

from __future__ import annotations

import sqlite3

import pytest
from received_helpers import Peer

from tagshare.node.ids import uuid7
from tagshare.node.node import open_node
from tagshare.node.received import apply_items
from tagshare.node.storage import db
from tagshare.node.storage import received as inbound
from tagshare.node.storage import shares as shares_store
from tagshare.protocol import Item


@pytest.fixture
def party(node):
    return Peer(node.home, "State Party", local_tag="party")


def apply(node, party: Peer, items: tuple[Item, ...]) -> int:
    opened = open_node(node.home)
    try:
        with db.transaction(opened.conn) as conn:
            share = shares_store.get_share(conn, party.share)
            applied = apply_items(opened, conn, share, items)
            inbound.mark_epoch(conn, party.share, [item.uuid for item in items], "epoch")
        return applied
    finally:
        opened.close()


def node_id(node) -> str:
    opened = open_node(node.home)
    try:
        return opened.node_id
    finally:
        opened.close()


def upsert(uuid: str, version: int, *, ref: tuple[str, str] | None = None,
           contacts: tuple[dict[str, object], ...] = (), **fields: str | None) -> Item:
    return Item(op="upsert", uuid=uuid, version=version, fields=fields, ref=ref,
                contacts=contacts)


def rows(node, sql: str, *args: object) -> list[tuple[object, ...]]:
    with node.db() as conn:
        return [tuple(row) for row in conn.execute(sql, args)]


def test_one_mixed_batch_ends_as_the_rules_say(node, party):
    ours = node.add("--first-name", "Ann", "--email", "ann@example.org")
    changed = uuid7()
    copy = party.send(changed, first_name="Bo", email="bo@example.org")
    stale, new, twice, attached = uuid7(), uuid7(), uuid7(), uuid7()
    party.send(stale, first_name="Cy")  # version 2 here
    door = {"uuid": uuid7(), "method": "door", "outcome": None, "note": None,
            "at": "2026-01-01T00:00:00Z", "by": None}
    applied = apply(node, party, (
        upsert(new, 5, first_name="Di", email="ann@example.org", contacts=(door,)),
        upsert(changed, 9, first_name="Bob", email="bo@example.org"),
        upsert(stale, 1, first_name="overwritten?"),
        upsert(twice, 3, first_name="Old"),
        upsert(twice, 4, first_name="Ed"),
        Item(op="upsert", uuid=attached, version=6, fields={}, ref=(node_id(node), ours),
             contacts=()),
    ))
    assert applied == 4  # the stale version changes nothing; `twice` counts once
    people = dict(rows(node, "SELECT origin_uuid, first_name FROM people WHERE origin = ?",
                       party.node_id))
    assert people == {changed: "Bob", stale: "Cy", new: "Di", twice: "Ed"}
    [(new_copy, link)] = rows(node, "SELECT uuid, link FROM people WHERE origin_uuid = ?", new)
    assert link == ours  # matched on its email
    assert rows(node, "SELECT person, origin FROM contacts") == [(new_copy, party.node_id)]
    received = {uuid: (version, person, state, epoch) for uuid, version, person, state, epoch
                in rows(node, "SELECT origin_uuid, version, person, state, epoch FROM received")}
    assert received[changed] == (9, copy, "member", "epoch")
    assert received[twice][0] == 4 and received[stale][0] == 2
    assert received[attached] == (6, ours, "member", "epoch")
    tagged = {row[0] for row in rows(node, "SELECT t.person FROM taggings t JOIN tags g "
                                           "ON g.id = t.tag WHERE g.name = 'party'")}
    assert tagged == {person for _, person, _, _ in received.values()}
    assert ours in tagged


def test_nothing_stays_staged_and_nothing_lands_in_the_file(node, party):
    apply(node, party, tuple(upsert(uuid7(), 1, first_name=f"P{i}") for i in range(50)))
    opened = open_node(node.home)
    try:
        with db.transaction(opened.conn) as conn:
            share = shares_store.get_share(conn, party.share)
            apply_items(opened, conn, share, (upsert(uuid7(), 1, first_name="Last"),))
            staged = [conn.execute(f"SELECT count(*) FROM temp.{table}").fetchone()[0]
                      for table in ("staged_people", "staged_members")]
    finally:
        opened.close()
    assert staged == [0, 0]
    with sqlite3.connect(node.home / "node.db") as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert not any(name.startswith("staged") for name in names)
    assert len(rows(node, "SELECT 1 FROM people WHERE origin = ?", party.node_id)) == 51
