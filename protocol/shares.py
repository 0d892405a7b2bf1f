"""Share messages: offer, accept, decline, revoke, leave, resync, batches and pulls.

How a share moves (granter G, subscriber S):

    G: share.offer  ->  S       S answers share.accept or share.decline
    G: share.batch  ->  S       items (upsert / withdraw / erase), acked
    S: outbox.pull  ->  G       (a subscriber nobody can reach) G answers with
                                outbox.items: queued control messages and
                                batches; S applies them, then sends outbox.ack
    S: share.resync ->  G       G re-sends every person in the share
    G: share.revoke ->  S       or S: share.leave -> G; nothing flows after

A batch names its share, the share's epoch (random, changes when the granter's
state is reset) and a sequence number; each item carries a per-person version
that only grows, so applying batches twice or out of order changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from tagshare.protocol import _fields as f
from tagshare.protocol.errors import LocalProtocolError, MalformedMessage
from tagshare.protocol.items import (
    CONTACT_KEYS,
    DONATION_KEYS,
    FIELD_COLUMNS,
    FIELD_GROUPS,
    MAX_RECORDS_PER_PERSON,
    MAX_VALUE_CHARS,
    OPS,
    PERSON_COLUMNS,
    Item,
    Relayed,
    canonical_fields,
    check_fields,
    check_uuid,
    columns_for,
)
from tagshare.protocol.messages import ID_BYTES, Message, message_from_dict, register_message
from tagshare.protocol.reshare import Grant, Notice, check_reshare, paths_from, paths_to_list
from tagshare.protocol.snapshot import Snapshot

# Names other modules import from here since before protocol/items.py existed.
__all__ = [
    "CONTACT_KEYS", "DONATION_KEYS", "FIELD_COLUMNS", "FIELD_GROUPS", "MAX_ITEMS",
    "MAX_RECORDS_PER_PERSON", "MAX_VALUE_CHARS", "ON_REVOKE", "OPS", "PERSON_COLUMNS",
    "PULLABLE", "Item", "OutboxAck", "OutboxEntry", "OutboxItems", "OutboxPull", "Relayed",
    "ShareAccept", "ShareBatch", "ShareDecline", "ShareLeave", "ShareOffer", "ShareReach",
    "ShareResync", "ShareRevoke", "ShareSynced", "ShareTerms", "ShareTermsAccept",
    "canonical_fields", "check_fields", "check_uuid", "columns_for",
]

ON_REVOKE = ("purge", "keep")
MAX_ITEMS = 5000


@dataclass(frozen=True)
class _ShareMessage(Message):
    """Messages that only name a share."""

    share: str

    def __post_init__(self) -> None:
        check_uuid(self.share, "share")

    def to_dict(self) -> dict[str, object]:
        return {"share": self.share}

    @classmethod
    def from_dict(cls, body: object) -> Self:
        obj = f.require_object(body, frozenset({"share"}), f"{cls.TYPE} body")
        return f.build(lambda: cls(share=f.get_str(obj, "share")))


@register_message
@dataclass(frozen=True)
class ShareDecline(_ShareMessage):
    """Subscriber -> granter: no, thank you."""

    TYPE: ClassVar[str] = "share.decline"


@register_message
@dataclass(frozen=True)
class ShareRevoke(_ShareMessage):
    """Granter -> subscriber: the share has ended."""

    TYPE: ClassVar[str] = "share.revoke"


@register_message
@dataclass(frozen=True)
class ShareLeave(_ShareMessage):
    """Subscriber -> granter: stop sending."""

    TYPE: ClassVar[str] = "share.leave"


@register_message
@dataclass(frozen=True)
class ShareResync(_ShareMessage):
    """Subscriber -> granter: send everything again."""

    TYPE: ClassVar[str] = "share.resync"


@register_message
@dataclass(frozen=True)
class ShareOffer(Message):
    """Granter -> subscriber: the terms of a share, signed by the granter (``grant``),
    with the signed paths of what it re-shares (``upstream``, protocol/reshare.py)."""

    TYPE: ClassVar[str] = "share.offer"
    share: str
    tag: str
    fields: tuple[str, ...]
    on_revoke: str
    note: str
    epoch: str
    reshare: str
    grant: Grant
    upstream: tuple[tuple[Grant, ...], ...] = ()

    def __post_init__(self) -> None:
        check_uuid(self.share, "share")
        f.check_text(self.tag, "tag", max_len=100)
        check_fields(self.fields)
        if self.on_revoke not in ON_REVOKE:
            raise LocalProtocolError("on_revoke must be purge or keep")
        f.check_str(self.note, "note", max_len=MAX_VALUE_CHARS)
        f.check_b64(self.epoch, ID_BYTES, "epoch")
        check_reshare(self.reshare)
        if not isinstance(self.grant, Grant):
            raise LocalProtocolError("grant must be a Grant")
        signed = (self.grant.share, self.grant.tag, self.grant.fields, self.grant.on_revoke,
                  self.grant.reshare)
        if signed != (self.share, self.tag, self.fields, self.on_revoke, self.reshare):
            raise LocalProtocolError("the signed grant does not match the offer's terms")
        if not isinstance(self.upstream, tuple) or not all(
                isinstance(path, tuple) and path and all(isinstance(g, Grant) for g in path)
                for path in self.upstream):
            raise LocalProtocolError("upstream must be a tuple of paths of Grants")
        for path in self.upstream:
            if path[-1].subscriber != self.grant.granter:
                raise LocalProtocolError("an upstream path must end at the granter")

    def to_dict(self) -> dict[str, object]:
        return {"share": self.share, "tag": self.tag, "fields": list(self.fields),
                "on_revoke": self.on_revoke, "note": self.note, "epoch": self.epoch,
                "reshare": self.reshare, "grant": self.grant.to_dict(),
                "upstream": paths_to_list(self.upstream)}

    @classmethod
    def from_dict(cls, body: object) -> Self:
        keys = frozenset({"share", "tag", "fields", "on_revoke", "note", "epoch", "reshare",
                          "grant", "upstream"})
        obj = f.require_object(body, keys, "share.offer body")
        grant = Grant.from_dict(obj["grant"])
        upstream = paths_from(obj["upstream"])
        return f.build(lambda: cls(
            share=f.get_str(obj, "share"), tag=f.get_str(obj, "tag"),
            fields=tuple(f.get_list(obj, "fields")),  # type: ignore[arg-type]
            on_revoke=f.get_str(obj, "on_revoke"), note=f.get_str(obj, "note"),
            epoch=f.get_str(obj, "epoch"), reshare=f.get_str(obj, "reshare"),
            grant=grant, upstream=upstream))


@register_message
@dataclass(frozen=True)
class ShareAccept(Message):
    """Subscriber -> granter: yes. ``pull`` says the subscriber cannot be reached."""

    TYPE: ClassVar[str] = "share.accept"
    share: str
    pull: bool

    def __post_init__(self) -> None:
        check_uuid(self.share, "share")
        if not isinstance(self.pull, bool):
            raise LocalProtocolError("pull must be a boolean")

    def to_dict(self) -> dict[str, object]:
        return {"share": self.share, "pull": self.pull}

    @classmethod
    def from_dict(cls, body: object) -> Self:
        obj = f.require_object(body, frozenset({"share", "pull"}), "share.accept body")
        return f.build(lambda: cls(share=f.get_str(obj, "share"), pull=obj["pull"]))  # type: ignore[arg-type]


@register_message
@dataclass(frozen=True)
class ShareBatch(Message):
    """Granter -> subscriber: changed people of one share. A batch to a peer that takes
    snapshots may also carry many plain upserts column-oriented (protocol/snapshot.py);
    the key `snapshot` is then present, and absent otherwise."""

    TYPE: ClassVar[str] = "share.batch"
    share: str
    epoch: str
    seq: int
    terms: int
    items: tuple[Item, ...]
    snapshot: Snapshot | None = None

    def __post_init__(self) -> None:
        check_uuid(self.share, "share")
        f.check_b64(self.epoch, ID_BYTES, "epoch")
        f.check_int(self.seq, "seq", minimum=1)  # a share's first batch is seq 1
        f.check_int(self.terms, "terms", minimum=1)
        if not isinstance(self.items, tuple) or len(self.items) > MAX_ITEMS:
            raise LocalProtocolError(f"items must be a tuple of at most {MAX_ITEMS}")
        if not all(isinstance(item, Item) for item in self.items):
            raise LocalProtocolError("items must be Item values")
        if self.snapshot is not None:
            if not isinstance(self.snapshot, Snapshot):
                raise LocalProtocolError("snapshot must be a Snapshot")
            if not {item.uuid for item in self.items}.isdisjoint(self.snapshot.uuids()):
                raise LocalProtocolError("a person is both in the items and the snapshot")

    def uuids(self) -> list[str]:
        """Everyone the batch names, in items and snapshot."""
        chunk = self.snapshot.uuids() if self.snapshot is not None else []
        return [item.uuid for item in self.items] + chunk

    def to_dict(self) -> dict[str, object]:
        data = {"share": self.share, "epoch": self.epoch, "seq": self.seq, "terms": self.terms,
                "items": [item.to_dict() for item in self.items]}
        if self.snapshot is not None:
            data["snapshot"] = self.snapshot.to_dict()
        return data

    @classmethod
    def from_dict(cls, body: object) -> Self:
        keys = frozenset({"share", "epoch", "seq", "terms", "items"})
        if isinstance(body, dict) and "snapshot" in body:
            keys |= {"snapshot"}
        obj = f.require_object(body, keys, "share.batch body")
        raw_items = f.get_list(obj, "items")
        if len(raw_items) > MAX_ITEMS:
            raise MalformedMessage(f"a batch holds at most {MAX_ITEMS} items")
        items = tuple(Item.from_dict(item) for item in raw_items)
        snapshot = Snapshot.from_dict(obj["snapshot"]) if "snapshot" in obj else None
        return f.build(lambda: cls(share=f.get_str(obj, "share"), epoch=f.get_str(obj, "epoch"),
                                   seq=f.get_int(obj, "seq"), terms=f.get_int(obj, "terms"),
                                   items=items, snapshot=snapshot))


@register_message
@dataclass(frozen=True)
class ShareSynced(Message):
    """Granter -> subscriber: a full resend under ``epoch`` is complete; people not sent
    under it are no longer in the share."""

    TYPE: ClassVar[str] = "share.synced"
    share: str
    epoch: str

    def __post_init__(self) -> None:
        check_uuid(self.share, "share")
        f.check_b64(self.epoch, ID_BYTES, "epoch")

    def to_dict(self) -> dict[str, object]:
        return {"share": self.share, "epoch": self.epoch}

    @classmethod
    def from_dict(cls, body: object) -> Self:
        obj = f.require_object(body, frozenset({"share", "epoch"}), "share.synced body")
        return f.build(lambda: cls(share=f.get_str(obj, "share"), epoch=f.get_str(obj, "epoch")))


@register_message
@dataclass(frozen=True)
class ShareTerms(Message):
    """Granter -> subscriber: new terms for a running share (version grows by one)."""

    TYPE: ClassVar[str] = "share.terms"
    share: str
    version: int
    fields: tuple[str, ...]
    on_revoke: str

    def __post_init__(self) -> None:
        check_uuid(self.share, "share")
        f.check_int(self.version, "version", minimum=2)
        check_fields(self.fields)
        if self.on_revoke not in ON_REVOKE:
            raise LocalProtocolError("on_revoke must be purge or keep")

    def to_dict(self) -> dict[str, object]:
        return {"share": self.share, "version": self.version, "fields": list(self.fields),
                "on_revoke": self.on_revoke}

    @classmethod
    def from_dict(cls, body: object) -> Self:
        obj = f.require_object(body, frozenset({"share", "version", "fields", "on_revoke"}),
                               "share.terms body")
        return f.build(lambda: cls(
            share=f.get_str(obj, "share"), version=f.get_int(obj, "version"),
            fields=tuple(f.get_list(obj, "fields")),  # type: ignore[arg-type]
            on_revoke=f.get_str(obj, "on_revoke")))


@register_message
@dataclass(frozen=True)
class ShareTermsAccept(Message):
    """Subscriber -> granter: the terms of that version are accepted."""

    TYPE: ClassVar[str] = "share.terms.accept"
    share: str
    version: int

    def __post_init__(self) -> None:
        check_uuid(self.share, "share")
        f.check_int(self.version, "version", minimum=2)

    def to_dict(self) -> dict[str, object]:
        return {"share": self.share, "version": self.version}

    @classmethod
    def from_dict(cls, body: object) -> Self:
        obj = f.require_object(body, frozenset({"share", "version"}), "share.terms.accept body")
        return f.build(lambda: cls(share=f.get_str(obj, "share"),
                                   version=f.get_int(obj, "version")))


@register_message
@dataclass(frozen=True)
class ShareReach(Message):
    """Re-sharing node -> its granter, passed up hop by hop to the origin: a signed notice
    that the origin's people were granted onward (protocol/reshare.py)."""

    TYPE: ClassVar[str] = "share.reach"
    notice: Notice

    def __post_init__(self) -> None:
        if not isinstance(self.notice, Notice):
            raise LocalProtocolError("notice must be a Notice")

    def to_dict(self) -> dict[str, object]:
        return {"notice": self.notice.to_dict()}

    @classmethod
    def from_dict(cls, body: object) -> Self:
        obj = f.require_object(body, frozenset({"notice"}), "share.reach body")
        return cls(notice=Notice.from_dict(obj["notice"]))


@register_message
@dataclass(frozen=True)
class OutboxPull(Message):
    """Subscriber -> granter, at /federation/v1/outbox: what is waiting for me?"""

    TYPE: ClassVar[str] = "outbox.pull"

    def to_dict(self) -> dict[str, object]:
        return {}

    @classmethod
    def from_dict(cls, body: object) -> Self:
        f.require_object(body, frozenset(), "outbox.pull body")
        return cls()


# What a pull hands out: every message queued for the puller (it is never pushed to when
# nobody can reach it), so a granter's control messages and batches, a subscriber's answers
# when the puller is the granter, and the node's own key rotation.
PULLABLE = ("share.offer", "share.terms", "share.revoke", "share.synced", "share.batch",
            "share.accept", "share.decline", "share.leave", "share.resync",
            "share.terms.accept", "share.reach", "key.rotate")


@dataclass(frozen=True)
class OutboxEntry:
    """One message handed out by a pull; ``ref`` names a queued control message (0: a batch)."""

    ref: int
    message: Message

    def __post_init__(self) -> None:
        f.check_int(self.ref, "ref")
        if self.message.TYPE not in PULLABLE:
            raise LocalProtocolError(f"{self.message.TYPE} cannot be pulled")


@register_message
@dataclass(frozen=True)
class OutboxItems(Message):
    """Granter -> subscriber, the answer to a pull."""

    TYPE: ClassVar[str] = "outbox.items"
    entries: tuple[OutboxEntry, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.entries, tuple) or len(self.entries) > 1000:
            raise LocalProtocolError("entries must be a tuple of at most 1000")

    def to_dict(self) -> dict[str, object]:
        return {"entries": [{"ref": e.ref, "type": e.message.TYPE, "body": e.message.to_dict()}
                            for e in self.entries]}

    @classmethod
    def from_dict(cls, body: object) -> Self:
        obj = f.require_object(body, frozenset({"entries"}), "outbox.items body")
        raw = f.get_list(obj, "entries")
        if len(raw) > 1000:
            raise MalformedMessage("too many entries")
        entries = []
        for item in raw:
            entry = f.require_object(item, frozenset({"ref", "type", "body"}), "entry")
            kind = f.get_str(entry, "type")
            if kind not in PULLABLE:
                raise MalformedMessage(f"{kind} cannot be pulled")
            ref = f.get_int(entry, "ref")
            if ref < 0:
                raise MalformedMessage("ref must not be negative")
            entries.append(OutboxEntry(ref=ref, message=message_from_dict(kind, entry["body"])))
        return cls(entries=tuple(entries))


@register_message
@dataclass(frozen=True)
class OutboxAck(Message):
    """Subscriber -> granter (inbox): pulled control messages and batches applied."""

    TYPE: ClassVar[str] = "outbox.ack"
    refs: tuple[int, ...]
    batches: tuple[tuple[str, int], ...]

    def __post_init__(self) -> None:
        for ref in self.refs:
            f.check_int(ref, "ref", minimum=1)
        for share, seq in self.batches:
            check_uuid(share, "share")
            f.check_int(seq, "seq", minimum=1)

    def to_dict(self) -> dict[str, object]:
        return {"refs": list(self.refs),
                "batches": [{"share": share, "seq": seq} for share, seq in self.batches]}

    @classmethod
    def from_dict(cls, body: object) -> Self:
        obj = f.require_object(body, frozenset({"refs", "batches"}), "outbox.ack body")
        refs = f.get_list(obj, "refs")
        batches = []
        for item in f.get_list(obj, "batches"):
            entry = f.require_object(item, frozenset({"share", "seq"}), "batch ack")
            batches.append((f.get_str(entry, "share"), f.get_int(entry, "seq")))
        if not all(isinstance(r, int) and not isinstance(r, bool) for r in refs):
            raise MalformedMessage("refs must be integers")
        return f.build(lambda: cls(refs=tuple(refs), batches=tuple(batches)))  # type: ignore[arg-type]
