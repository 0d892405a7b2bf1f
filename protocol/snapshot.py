"""Snapshot chunks: many plain upserts of a share, carried column-oriented.

A first sync (or a resync) moves a whole tag. Instead of one item object per
person, a `share.batch` to a peer that advertises SNAPSHOT_CAPABILITY in its
node document may carry a `snapshot`:

    {"columns": ["uuid", "version", <person columns>],
     "rows": [[uuid, version, value, ...], ...],
     "contacts": {"columns": ["person", "uuid", "method", "outcome", "note", "at", "by"],
                  "rows": [[...], ...]} | null,
     "donations": {"columns": ["person", "uuid", "amount_cents", "currency", "at"],
                   "rows": [[...], ...]} | null}

Each row is one plain upsert (the granter's own person: no ref, chain or relayed
records), with the same meaning and the same limits as an upsert item. `contacts`
and `donations` list, per person of the chunk, that person's complete records (a
person with none has none); null when the share does not grant them. Everything
else (withdraw, erase, ref, chain) stays in the batch's `items`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tagshare.protocol import _fields as f
from tagshare.protocol.errors import LocalProtocolError, MalformedMessage
from tagshare.protocol.items import (
    CONTACT_KEYS,
    DONATION_KEYS,
    MAX_RECORDS_PER_PERSON,
    MAX_VALUE_CHARS,
    PERSON_COLUMNS,
    check_record,
    check_uuid,
)

SNAPSHOT_CAPABILITY = "share.snapshot"
MAX_CHUNK_PEOPLE = 10_000
MAX_CHUNK_RECORDS = 50_000  # contacts, and donations, in one chunk
KEY_COLUMNS = ("uuid", "version")
RECORD_COLUMNS: dict[str, tuple[str, ...]] = {
    "contacts": ("person", "uuid", "method", "outcome", "note", "at", "by"),
    "donations": ("person", "uuid", "amount_cents", "currency", "at"),
}
_RECORD_KEYS = {"contacts": CONTACT_KEYS, "donations": DONATION_KEYS}
_RECORD_NAME = {"contacts": "contact", "donations": "donation"}

Row = tuple[Any, ...]  # text, integers and nulls, checked


@dataclass(frozen=True)
class Snapshot:
    """Plain upserts, column-oriented: `columns` are the person columns after uuid and
    version, each row is (uuid, version, *values); `contacts` and `donations` are rows of
    RECORD_COLUMNS (the person's uuid first), or None when the share does not grant them."""

    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    contacts: tuple[Row, ...] | None = None
    donations: tuple[Row, ...] | None = None

    def __post_init__(self) -> None:
        _check_columns(self.columns)
        people = _check_rows(self.rows, len(KEY_COLUMNS) + len(self.columns))
        for kind in RECORD_COLUMNS:
            rows = getattr(self, kind)
            if rows is not None:
                _check_records(kind, rows, people)

    def uuids(self) -> list[str]:
        return [str(row[0]) for row in self.rows]

    def records(self, kind: str) -> dict[str, list[dict[str, object]]] | None:
        """Per person uuid, its records of `kind` as item records (every person of the
        chunk, with an empty list if it has none); None if the chunk carries none."""
        rows = getattr(self, kind)
        if rows is None:
            return None
        names = RECORD_COLUMNS[kind][1:]
        grouped: dict[str, list[dict[str, object]]] = {str(row[0]): [] for row in self.rows}
        for row in rows:
            grouped[str(row[0])].append(dict(zip(names, row[1:], strict=True)))
        return grouped

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"columns": [*KEY_COLUMNS, *self.columns],
                                   "rows": [list(row) for row in self.rows]}
        for kind, names in RECORD_COLUMNS.items():
            rows = getattr(self, kind)
            data[kind] = None if rows is None else {"columns": list(names),
                                                    "rows": [list(row) for row in rows]}
        return data

    @classmethod
    def from_dict(cls, data: object) -> Snapshot:
        obj = f.require_object(data, frozenset({"columns", "rows", "contacts", "donations"}),
                               "snapshot")
        columns = f.get_list(obj, "columns")
        if columns[:2] != list(KEY_COLUMNS):
            raise MalformedMessage("snapshot columns must start with uuid, version")
        records = {kind: _record_rows(obj[kind], kind) for kind in RECORD_COLUMNS}
        return f.build(lambda: cls(
            columns=tuple(columns[2:]),  # type: ignore[arg-type]
            rows=_tuples(f.get_list(obj, "rows"), MAX_CHUNK_PEOPLE, "snapshot rows"),
            contacts=records["contacts"], donations=records["donations"]))


def _tuples(rows: list[object], limit: int, what: str) -> tuple[Row, ...]:
    """A peer's list of rows as tuples (counted before anything else is looked at)."""
    if len(rows) > limit:
        raise MalformedMessage(f"{what} hold at most {limit}")
    if not all(type(row) is list for row in rows):
        raise MalformedMessage(f"{what} must be lists")
    return tuple(tuple(row) for row in rows)  # type: ignore[arg-type]


def _record_rows(value: object, kind: str) -> tuple[Row, ...] | None:
    if value is None:
        return None
    obj = f.require_object(value, frozenset({"columns", "rows"}), f"snapshot {kind}")
    if f.get_list(obj, "columns") != list(RECORD_COLUMNS[kind]):
        raise MalformedMessage(f"snapshot {kind} columns must be {list(RECORD_COLUMNS[kind])}")
    return _tuples(f.get_list(obj, "rows"), MAX_CHUNK_RECORDS, f"snapshot {kind} rows")


def _check_columns(columns: object) -> None:
    if not isinstance(columns, tuple) or not all(isinstance(c, str) for c in columns):
        raise LocalProtocolError("snapshot columns must be a tuple of names")
    unknown = [c for c in columns if c not in PERSON_COLUMNS]
    if unknown:
        raise LocalProtocolError(f"unknown person field {unknown[0]!r}")
    if list(columns) != sorted(set(columns), key=PERSON_COLUMNS.index):
        raise LocalProtocolError("snapshot columns must be unique and in canonical order")


def _check_rows(rows: object, width: int) -> set[str]:
    """Every row: a uuid, a version, and text values within the limits; the uuids of
    the chunk, each at most once."""
    if not isinstance(rows, tuple) or not 1 <= len(rows) <= MAX_CHUNK_PEOPLE:
        raise LocalProtocolError(f"snapshot rows must be a tuple of 1..{MAX_CHUNK_PEOPLE}")
    people: set[str] = set()
    for row in rows:
        if type(row) is not tuple or len(row) != width:
            raise LocalProtocolError(f"a snapshot row must hold {width} values")
        people.add(check_uuid(row[0], "uuid"))
        f.check_int(row[1], "version", minimum=1)
        for value in row[2:]:
            if value is not None and (type(value) is not str or len(value) > MAX_VALUE_CHARS):
                raise LocalProtocolError(f"person values must be text of at most "
                                         f"{MAX_VALUE_CHARS}")
    if len(people) != len(rows):
        raise LocalProtocolError("a snapshot names a person twice")
    return people


def _check_records(kind: str, rows: object, people: set[str]) -> None:
    """Records as an item's (protocol/items.py), each of a person of the chunk, each
    uuid once, at most MAX_RECORDS_PER_PERSON per person."""
    if not isinstance(rows, tuple) or len(rows) > MAX_CHUNK_RECORDS:
        raise LocalProtocolError(f"snapshot {kind} must be a tuple of at most "
                                 f"{MAX_CHUNK_RECORDS}")
    names, keys, what = RECORD_COLUMNS[kind][1:], _RECORD_KEYS[kind], _RECORD_NAME[kind]
    per_person: dict[object, int] = {}
    seen: set[object] = set()
    for row in rows:
        if type(row) is not tuple or len(row) != len(names) + 1:
            raise LocalProtocolError(f"a snapshot {what} must hold {len(names) + 1} values")
        if not isinstance(row[0], str) or row[0] not in people:
            raise LocalProtocolError(f"a snapshot {what} names a person not in the chunk")
        check_record(dict(zip(names, row[1:], strict=True)), keys, what)
        seen.add(row[1])
        per_person[row[0]] = per_person.get(row[0], 0) + 1
        if per_person[row[0]] > MAX_RECORDS_PER_PERSON:
            raise LocalProtocolError(f"a person has at most {MAX_RECORDS_PER_PERSON} {kind}")
    if len(seen) != len(rows):
        raise LocalProtocolError(f"a snapshot names a {what} twice")
