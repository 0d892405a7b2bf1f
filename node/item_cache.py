"""Batch items of the node's own people, built once and reused by every share of the same
tag and terms.

A granter with fifty subscribers of one tag used to read and check the same 1,000 edited
people fifty times, once per share's batch; the batch's seal is per peer, the items are
not. An own person's upsert depends only on the person, the share's tag and its granted
fields, so it is kept under (tag, fields, person, version).

Why a `version` pins the item: the outbox triggers (node/storage/schema.py) give every
change of a person, its taggings, contacts or donations a new value of the node-wide
change counter, written at once into the pending row of every active outgoing share of
the person's tags. Two shares of one tag whose pending rows hold the same version for a
person were therefore queued by the same change, and nothing about the person has
changed for either since, or both would hold a newer version. A later change means a new
key, never a stale item.

Only plain upserts of own people are kept: withdraws and erasures are cheap, and what
goes out of a received person (a ref, a chain, relayed records) depends on the peer.
"""

from collections import OrderedDict

from tagshare.protocol import Item

CAPACITY = 5000  # items (a few MB): the batches of one round of edits to every share

Terms = tuple[int, str]  # the share's tag id and its granted fields as stored


class ItemCache:
    """The least recently used items are dropped beyond CAPACITY."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._items: OrderedDict[tuple[Terms, str, int], Item] = OrderedDict()
        self._capacity = capacity

    def found(self, terms: Terms, pending: list[tuple[str, int]]) -> dict[str, Item]:
        """The items kept for these (person, version) pending rows, by person."""
        found: dict[str, Item] = {}
        for person, version in pending:
            item = self._items.get((terms, person, version))
            if item is not None:
                self._items.move_to_end((terms, person, version))
                found[person] = item
        return found

    def keep(self, terms: Terms, items: list[Item]) -> None:
        """Keep the plain upserts among freshly built items of own people."""
        for item in items:
            if item.op == "upsert" and item.ref is None and item.chain is None:
                self._items[(terms, item.uuid, item.version)] = item
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
