"""What a batch carries about one person: field groups and their columns, the checks
on uuids and records, and the item (upsert / withdraw / erase) with what it relays.

protocol/shares.py builds its messages from these; protocol/snapshot.py carries the
same values column-oriented, checked by the same rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tagshare.protocol import _fields as f
from tagshare.protocol.errors import LocalProtocolError, MalformedMessage
from tagshare.protocol.keys import is_node_id
from tagshare.protocol.reshare import Provenance

FIELD_GROUPS = ("name", "email", "phone", "address", "contacts", "donations")
FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("first_name", "last_name"),
    "email": ("email",),
    "phone": ("phone",),
    "address": ("address1", "address2", "city", "state", "zip"),
}
PERSON_COLUMNS = tuple(c for group in FIELD_COLUMNS.values() for c in group)
_PERSON_COLUMN_SET = frozenset(PERSON_COLUMNS)
OPS = ("upsert", "withdraw", "erase")
CONTACT_KEYS = frozenset({"uuid", "method", "outcome", "note", "at", "by"})
DONATION_KEYS = frozenset({"uuid", "amount_cents", "currency", "at"})
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


def check_record(record: object, keys: frozenset[str], what: str) -> None:
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


def check_person_records(contacts: object, donations: object, prefix: str = "") -> None:
    """A person's contacts and donations: each None (not granted) or a tuple of records."""
    for records, keys, what in ((contacts, CONTACT_KEYS, "contact"),
                                (donations, DONATION_KEYS, "donation")):
        if records is None:
            continue
        if not isinstance(records, tuple) or len(records) > MAX_RECORDS_PER_PERSON:
            raise LocalProtocolError(f"{prefix}{what}s must be a tuple of records")
        for record in records:
            check_record(record, keys, what)


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
        check_person_records(self.contacts, self.donations, "relayed ")

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
        check_person_records(self.contacts, self.donations)

    def to_dict(self) -> dict[str, object]:
        """The wire form, built once and then shared: an item is immutable, and a granter
        sends the same item to every share of its tag. Callers must not change it."""
        wire = self.__dict__.get("_wire")
        if wire is None:
            wire = self._wire_form()
            object.__setattr__(self, "_wire", wire)
        return wire

    def _wire_form(self) -> dict[str, object]:
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
