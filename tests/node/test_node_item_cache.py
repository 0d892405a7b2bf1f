"""Items built once for every share of a tag (node/item_cache.py), on a real granter with
three subscribers: two shares of `volunteers` with the same terms reuse each other's
items, and no share ever sends a stale one: after an edit, a new contact, an untagging
or an erasure, each share's next batch carries the change, whichever share built first.
A share of other terms never gets another's items."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tagshare.node import people
from tagshare.node.handlers import HANDLERS
from tagshare.node.identity import node_document
from tagshare.node.item_cache import ItemCache
from tagshare.node.node import Node, init_node
from tagshare.node.outgoing import build_batch, settle_batch
from tagshare.node.pairing import _store_peer
from tagshare.node.shares import grant_share
from tagshare.node.storage import db
from tagshare.node.storage import peers as peer_store
from tagshare.protocol import Item, ShareAccept

NOW = 1_800_000_000
AT = "2026-01-01T00:00:00Z"


class Granter:
    def __init__(self, root: Path) -> None:
        self.node = init_node(root / "granter", name="Party", url="https://party.example")
        self.others: list[Node] = []
        self.ann = people.add_person(self.node, {"first_name": "Ann", "email": "ann@example.org"},
                                     ["volunteers"])
        self.bo = people.add_person(self.node, {"first_name": "Bo", "email": "bo@example.org"},
                                    ["volunteers"])

    def share(self, name: str, fields: str) -> str:
        other = init_node(self.node.home.parent / name, name=name, url=f"https://{name}.example")
        self.others.append(other)
        with db.transaction(self.node.conn) as conn:
            _store_peer(conn, node_document(other, NOW), alias=None, auto_accept=False)
        share = str(grant_share(self.node, tag="volunteers", peer=other.node_id, fields=fields,
                                on_revoke="purge", note=None)["id"])
        with db.transaction(self.node.conn) as conn:
            peer = peer_store.active_peer(conn, other.node_id)
            HANDLERS[ShareAccept.TYPE](self.node, peer, ShareAccept(share=share, pull=False))
        return share

    def send(self, share: str) -> dict[str, Item]:
        """The next batch of a share, acknowledged at once; its items by person."""
        batch = build_batch(self.node, share)
        assert batch is not None
        with db.transaction(self.node.conn) as conn:
            settle_batch(conn, share, batch.seq, AT)
        return {item.uuid: item for item in batch.items}

    def close(self) -> None:
        for node in (self.node, *self.others):
            node.close()


@pytest.fixture
def granter(tmp_path: Path) -> Iterator[Granter]:
    setup = Granter(tmp_path)
    yield setup
    setup.close()


def test_two_shares_of_the_same_terms_send_the_same_items_built_once(granter) -> None:
    first, second = granter.share("rivera", "name,email"), granter.share("lee", "name,email")
    initial = granter.send(first), granter.send(second)
    assert initial[0][granter.ann] is not initial[1][granter.ann]  # queued apart at accept
    for person, name in ((granter.ann, "Anna"), (granter.bo, "Bob")):
        people.edit_person(granter.node, person, {"first_name": name})
    sent_first, sent_second = granter.send(first), granter.send(second)
    assert set(sent_first) == set(sent_second) == {granter.ann, granter.bo}
    assert all(sent_second[p] is sent_first[p] for p in sent_first)  # reused, not rebuilt
    assert sent_first[granter.ann].fields == {"first_name": "Anna", "last_name": None,
                                             "email": "ann@example.org"}


def test_an_edit_after_one_share_built_reaches_the_other_share_too(granter) -> None:
    first, second = granter.share("rivera", "name,email"), granter.share("lee", "name,email")
    granter.send(first)
    granter.send(second)
    people.edit_person(granter.node, granter.ann, {"first_name": "Anna"})
    assert (granter.send(first)[granter.ann].fields or {})["first_name"] == "Anna"
    people.edit_person(granter.node, granter.ann, {"first_name": "Annie"})  # after first built
    assert (granter.send(second)[granter.ann].fields or {})["first_name"] == "Annie"
    assert (granter.send(first)[granter.ann].fields or {})["first_name"] == "Annie"


def test_a_new_contact_untagging_or_erasure_is_never_answered_from_the_cache(granter) -> None:
    first, second = granter.share("rivera", "name,contacts"), granter.share("lee", "name,contacts")
    granter.send(first)
    granter.send(second)
    people.add_contact(granter.node, granter.ann, method="door", outcome="talked", note=None,
                       at=None, by=None)
    assert len(granter.send(first)[granter.ann].contacts or ()) == 1
    assert len(granter.send(second)[granter.ann].contacts or ()) == 1
    people.remove_tags(granter.node, granter.ann, ["volunteers"])
    people.erase_person(granter.node, granter.bo)
    for share in (first, second):
        sent = granter.send(share)
        assert (sent[granter.ann].op, sent[granter.bo].op) == ("withdraw", "erase")


def test_a_share_of_other_terms_builds_its_own_items(granter) -> None:
    wide, narrow = granter.share("rivera", "name,email"), granter.share("lee", "name")
    granter.send(wide)
    sent = granter.send(narrow)
    assert sent[granter.ann].fields == {"first_name": "Ann", "last_name": None}


def test_the_cache_keeps_at_most_its_capacity_and_only_own_plain_upserts() -> None:
    cache = ItemCache(capacity=2)
    terms = (1, '["name"]')
    upserts = [Item(op="upsert", uuid=f"0190a000-0000-7000-8000-00000000000{i}", version=i,
                    fields={"first_name": "A"}) for i in range(1, 4)]
    withdraw = Item(op="withdraw", uuid="0190a000-0000-7000-8000-000000000009", version=9)
    cache.keep(terms, [*upserts, withdraw])
    assert len(cache) == 2
    pending = [(item.uuid, item.version) for item in [*upserts, withdraw]]
    assert set(cache.found(terms, pending)) == {upserts[1].uuid, upserts[2].uuid}
    assert cache.found((2, '["name"]'), pending) == {}
    assert cache.found(terms, [(upserts[2].uuid, 99)]) == {}  # another version
