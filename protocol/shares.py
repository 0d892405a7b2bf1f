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

import re
from dataclasses import dataclass
from typing import ClassVar, Self

from tagshare.protocol import _fields as f
from tagshare.protocol.errors import LocalProtocolError, MalformedMessage
from tagshare.protocol.keys import is_node_id
from tagshare.protocol.messages import ID_BYTES, Message, message_from_dict, register_message
from tagshare.protocol.reshare import (
    Grant,
    Notice,
    Provenance,
    check_reshare,
    paths_from,
    paths_to_list,
)

FIELD_GROUPS = ("name", "email", "phone", "address", "contacts", "donations")
FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("first_name", "last_name"),
    "email": ("email",),
    "phone": ("phone",),
    "address": ("address1", "address2", "city", "state", "zip"),
}
PERSON_COLUMNS = tuple(c for group in FIELD_COLUMNS.values() for c in group)
_PERSON_COLUMN_SET = frozenset(PERSON_COLUMNS)
ON_REVOKE = ("purge", "keep")
OPS = ("upsert", "withdraw", "erase")
CONTACT_KEYS = frozenset({"uuid", "method", "outcome", "note", "at", "by"})
DONATION_KEYS = frozenset({"uuid", "amount_cents", "currency", "at"})
MAX_ITEMS = 5000
MAX_RECORDS_PER_PERSON = 10_000
MAX_VALUE_CHARS = 2000
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# RFC 3339 in UTC with `Z`, optional fraction: this implementation writes milliseconds.
_AT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")


def check_uuid(value: object, what: str) -> str:
    if not isinstance(value, str) or not _UUID_RE.fullmatch(value):  # no trailing newline
        raise LocalProtocolError(f"{what} must be a lowercase uuid")
    return value


def columns_for(fields: tuple[str, ...]) -> tuple[str, ...]:
    """The person columns that a set of granted field groups covers."""
    return tuple(c for group in fields if group in FIELD_COLUMNS for c in FIELD_COLUMNS[group])


def check_fields(fields: object) -> tuple[str, ...]:
    if not isinstance(fields, tuple) or not fields:
        raise LocalProtocolError("fields must be a non-empty tuple")
    for name in fields:
        if name not in FIELD_GROUPS:
            raise LocalProtocolError(f"unknown field group {name!r}")
    if list(fields) != sorted(set(fields), key=FIELD_GROUPS.index):
        raise LocalProtocolError("fields must be unique and in canonical order")
    return fields


def canonical_fields(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(names), key=FIELD_GROUPS.index))


def _optional_text(value: object, what: str) -> None:
    if value is not None:
        f.check_str(value, what, max_len=MAX_VALUE_CHARS)


def _check_record(record: object, keys: frozenset[str], what: str) -> None:
    if not isinstance(record, dict) or set(record) != keys:
        raise LocalProtocolError(f"{what} must have exactly {sorted(keys)}")
    check_uuid(record["uuid"], f"{what} uuid")
    f.check_str(record["at"], f"{what} at", min_len=1, max_len=40)
    if not _AT_RE.fullmatch(str(record["at"])):
        raise LocalProtocolError(f"{what} at must be a UTC time like 2026-10-03T14:30:00.000Z")
    for key in keys - {"uuid", "at", "amount_cents"}:
        _optional_text(record[key], f"{what} {key}")
    if "amount_cents" in keys:
        f.check_int(record["amount_cents"], "amount_cents", minimum=1)
        f.check_str(record["currency"], "currency", min_len=3, max_len=3)
    if "method" in keys:
        f.check_str(record["method"], "method", min_len=1, max_len=20)


MAX_RELAYED = 64


@dataclass(frozen=True)
class Relayed:
    """Records another node (``node``) recorded on a person, passed back up by the sender,
    which received them: contacts and donations travel up the chain to the origin."""

    node: str
    contacts: tuple[dict[str, object], ...] | None
    donations: tuple[dict[str, object], ...] | None

    def __post_init__(self) -> None:
        if not is_node_id(self.node):
            raise LocalProtocolError("relayed node must be a node id")
        for records, keys, what in ((self.contacts, CONTACT_KEYS, "contact"),
                                    (self.donations, DONATION_KEYS, "donation")):
            if records is None:
                continue
            if not isinstance(records, tuple) or len(records) > MAX_RECORDS_PER_PERSON:
                raise LocalProtocolError(f"relayed {what}s must be a tuple of records")
            for record in records:
                _check_record(record, keys, what)

    def to_dict(self) -> dict[str, object]:
        return {"node": self.node,
                "contacts": None if self.contacts is None else list(self.contacts),
                "donations": None if self.donations is None else list(self.donations)}

    @classmethod
    def from_dict(cls, data: object) -> Relayed:
        obj = f.require_object(data, frozenset({"node", "contacts", "donations"}), "relayed")
        contacts, donations = obj["contacts"], obj["donations"]
        return f.build(lambda: cls(
            node=f.get_str(obj, "node"),
            contacts=None if contacts is None else tuple(f.get_list(obj, "contacts")),  # type: ignore[arg-type]
            donations=None if donations is None else tuple(f.get_list(obj, "donations"))))  # type: ignore[arg-type]


def _check_relayed(relayed: object, ref: object, contacts: object, donations: object) -> None:
    if not isinstance(relayed, tuple) or len(relayed) > MAX_RELAYED:
        raise LocalProtocolError(f"relayed must be a tuple of at most {MAX_RELAYED}")
    if relayed and ref is None:
        raise LocalProtocolError("only an item with a ref relays records")
    nodes = set()
    for entry in relayed:
        if not isinstance(entry, Relayed):
            raise LocalProtocolError("relayed must hold Relayed values")
        if (entry.contacts is None) != (contacts is None) or (
                (entry.donations is None) != (donations is None)):
            raise LocalProtocolError("relayed records must match the item's granted kinds")
        nodes.add(entry.node)
    if len(nodes) != len(relayed):
        raise LocalProtocolError("relayed names a node twice")


@dataclass(frozen=True)
class Item:
    """One person's change in a batch.

    ``fields`` holds the granted person columns (upsert only). ``contacts`` and
    ``donations`` are the sender's own records of the person, complete, or None
    when the share does not grant them. ``ref`` (node id, uuid) is set when the
    sender itself received the person from that node: the item then carries no
    fields (a node passes on only what it originated), only the reference and
    the sender's own records. ``chain`` is set when the sender forwards a person it
    received, as the origin allowed (protocol/reshare.py): the item carries the origin's
    fields, at most what the path grants, and no ``ref``.
    """

    op: str
    uuid: str
    version: int
    fields: dict[str, str | None] | None = None
    contacts: tuple[dict[str, object], ...] | None = None
    donations: tuple[dict[str, object], ...] | None = None
    ref: tuple[str, str] | None = None
    chain: Provenance | None = None
    relayed: tuple[Relayed, ...] = ()

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise LocalProtocolError(f"unknown op {self.op!r}")
        check_uuid(self.uuid, "uuid")
        f.check_int(self.version, "version", minimum=1)
        if self.op != "upsert":
            if (self.fields, self.contacts, self.donations, self.ref,
                    self.chain) != (None,) * 5 or self.relayed:
                raise LocalProtocolError(f"{self.op} carries no data")
            return
        _check_relayed(self.relayed, self.ref, self.contacts, self.donations)
        if self.chain is not None and (not isinstance(self.chain, Provenance)
                                       or self.ref is not None):
            raise LocalProtocolError("chain must be a Provenance, and excludes ref")
        if self.ref is not None:
            if (not isinstance(self.ref, tuple) or len(self.ref) != 2
                    or not is_node_id(self.ref[0])):
                raise LocalProtocolError("ref must be (node id, uuid)")
            check_uuid(self.ref[1], "ref uuid")
            if self.fields:
                raise LocalProtocolError("an item with a ref carries no person fields")
        if not isinstance(self.fields, dict):
            raise LocalProtocolError("upsert needs fields")
        unknown = self.fields.keys() - _PERSON_COLUMN_SET
        if unknown:
            raise LocalProtocolError(f"unknown person field {sorted(unknown)[0]!r}")
        for key, value in self.fields.items():
            if value is not None and (type(value) is not str or len(value) > MAX_VALUE_CHARS):
                raise LocalProtocolError(f"{key} must be text of at most {MAX_VALUE_CHARS}")
        for records, keys, what in ((self.contacts, CONTACT_KEYS, "contact"),
                                    (self.donations, DONATION_KEYS, "donation")):
            if records is None:
                continue
            if not isinstance(records, tuple) or len(records) > MAX_RECORDS_PER_PERSON:
                raise LocalProtocolError(f"{what}s must be a tuple of records")
            for record in records:
                _check_record(record, keys, what)

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"op": self.op, "uuid": self.uuid, "version": self.version}
        if self.op == "upsert":
            data["fields"] = dict(self.fields or {})
            data["contacts"] = None if self.contacts is None else list(self.contacts)
            data["donations"] = None if self.donations is None else list(self.donations)
            data["ref"] = None if self.ref is None else {"node": self.ref[0],
                                                          "uuid": self.ref[1]}
            data["chain"] = None if self.chain is None else self.chain.to_dict()
            data["relayed"] = [entry.to_dict() for entry in self.relayed]
        return data

    @classmethod
    def from_dict(cls, data: object) -> Item:
        if not isinstance(data, dict) or data.get("op") not in OPS:
            raise MalformedMessage("item must be an object with op upsert, withdraw or erase")
        if data["op"] != "upsert":
            obj = f.require_object(data, frozenset({"op", "uuid", "version"}), "item")
            return f.build(lambda: cls(op=f.get_str(obj, "op"), uuid=f.get_str(obj, "uuid"),
                                       version=f.get_int(obj, "version")))
        obj = f.require_object(
            data, frozenset({"op", "uuid", "version", "fields", "contacts", "donations", "ref",
                             "chain", "relayed"}),
            "item")
        contacts, donations = obj["contacts"], obj["donations"]
        ref = None
        if obj["ref"] is not None:
            raw_ref = f.require_object(obj["ref"], frozenset({"node", "uuid"}), "ref")
            ref = (f.get_str(raw_ref, "node"), f.get_str(raw_ref, "uuid"))
        chain = None if obj["chain"] is None else Provenance.from_dict(obj["chain"])
        raw_relayed = f.get_list(obj, "relayed")
        if len(raw_relayed) > MAX_RELAYED:
            raise MalformedMessage(f"an item relays the records of at most {MAX_RELAYED} nodes")
        relayed = tuple(Relayed.from_dict(entry) for entry in raw_relayed)
        return f.build(lambda: cls(
            op="upsert", uuid=f.get_str(obj, "uuid"), version=f.get_int(obj, "version"),
            fields=f.get_object(obj, "fields"),  # type: ignore[arg-type]
            contacts=None if contacts is None else tuple(f.get_list(obj, "contacts")),  # type: ignore[arg-type]
            donations=None if donations is None else tuple(f.get_list(obj, "donations")),  # type: ignore[arg-type]
            ref=ref, chain=chain, relayed=relayed,
        ))


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
    """Granter -> subscriber: changed people of one share."""

    TYPE: ClassVar[str] = "share.batch"
    share: str
    epoch: str
    seq: int
    terms: int
    items: tuple[Item, ...]

    def __post_init__(self) -> None:
        check_uuid(self.share, "share")
        f.check_b64(self.epoch, ID_BYTES, "epoch")
        f.check_int(self.seq, "seq", minimum=1)  # a share's first batch is seq 1
        f.check_int(self.terms, "terms", minimum=1)
        if not isinstance(self.items, tuple) or len(self.items) > MAX_ITEMS:
            raise LocalProtocolError(f"items must be a tuple of at most {MAX_ITEMS}")
        if not all(isinstance(item, Item) for item in self.items):
            raise LocalProtocolError("items must be Item values")

    def to_dict(self) -> dict[str, object]:
        return {"share": self.share, "epoch": self.epoch, "seq": self.seq, "terms": self.terms,
                "items": [item.to_dict() for item in self.items]}

    @classmethod
    def from_dict(cls, body: object) -> Self:
        obj = f.require_object(body, frozenset({"share", "epoch", "seq", "terms", "items"}),
                               "share.batch body")
        raw_items = f.get_list(obj, "items")
        if len(raw_items) > MAX_ITEMS:
            raise MalformedMessage(f"a batch holds at most {MAX_ITEMS} items")
        items = tuple(Item.from_dict(item) for item in raw_items)
        return f.build(lambda: cls(share=f.get_str(obj, "share"), epoch=f.get_str(obj, "epoch"),
                                   seq=f.get_int(obj, "seq"), terms=f.get_int(obj, "terms"),
                                   items=items))


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
