"""The import's matching path: which existing person each row of a batch is, decided with
a few bulk lookups per batch, never a query per row.

The rule is node/matching.py's: a row with an email is the local person with that email,
or a new person (never someone with another email, whatever the phone says). A row
without an email updates the one person who holds its phone, unless that person has
another name (among several holders: the one with exactly its name, if there is one);
otherwise nothing is merged: the row is added as a new person and recorded for `match
list`, and imported again it matches that person by its exact name. A
row with neither matches the person with its name and street address and no email or
phone. An email repeated within one file is one person given twice: the later row is
skipped, naming both lines (FirstLines keeps every email's first line in bounded memory).
"""

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tagshare.node import matching, normalize
from tagshare.node.ids import uuid7
from tagshare.node.import_rows import FirstLines, Row
from tagshare.node.storage import matching as reviews_store
from tagshare.node.storage import people as store
from tagshare.node.storage.people import PERSON_FIELDS

if TYPE_CHECKING:
    from tagshare.node.csvio import ImportReport

Names = tuple[str | None, str | None]
Review = tuple[str, list[tuple[str, str]]]  # reason, [(candidate, matched on)]


@dataclass
class _Batch:
    """What a batch's rows were looked up against, and what they add up to."""

    known: set[str]
    by_email: dict[str, list[str]]
    phones: dict[str, dict[str, Names]]  # phone -> holder -> names, the batch's own too
    inserts: dict[str, dict[str, Any]] = field(default_factory=dict)
    updates: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # in row order
    taggings: list[tuple[int, str]] = field(default_factory=list)
    reviews: list[tuple[str, str, list[tuple[str, str]]]] = field(default_factory=list)
    emails: dict[str, str] = field(default_factory=dict)  # applied by this batch: uuid
    names: dict[tuple[str | None, ...], str] = field(default_factory=dict)


class MatchingPath:
    """Applies batches of checked rows to a node that may already hold their people."""

    def __init__(self, conn: sqlite3.Connection, report: "ImportReport",
                 email_lines: FirstLines | None, source: str, tag_id: Callable[[str], int]) -> None:
        self.conn = conn
        self.report = report
        self.email_lines = email_lines
        self.source = source
        self.tag_id = tag_id

    def apply(self, rows: list[Row]) -> list[str]:
        """Apply the rows; the uuid each row landed on (a skipped row: its email's)."""
        landed: list[str] = []
        for row in rows:
            row.fields = dict(zip(PERSON_FIELDS, row.values, strict=True))
        batch = self._lookup(rows)
        now = normalize.now_iso()
        for row in rows:
            key = (row.fields["email"] or "").lower()
            if key and self._repeated(row, key, batch):
                landed.append(batch.emails.get(key) or batch.by_email[key][0])
                continue
            target, review = self._target(row, key, batch)
            given = {k: v for k, v in row.fields.items() if v}
            if target is None:
                target = uuid7()
                batch.inserts[target] = {**row.fields, "uuid": target, "created_at": now,
                                         "updated_at": now}
                if review is not None:
                    batch.reviews.append((target, *review))
                    self.report.reviews.append((row.line, target, review[0]))
            elif target in batch.inserts:
                self._count(batch.inserts[target], given)
            else:
                batch.updates.append((target, given))
            self._remember(row, key, target, batch)
            batch.taggings.extend((self.tag_id(name), target) for name in row.tags)
            landed.append(target)
        self._write(batch, now)
        return landed

    def _lookup(self, rows: list[Row]) -> _Batch:
        emails = [e for r in rows if (e := r.fields["email"])]
        phones = [p for r in rows if not r.fields["email"] and (p := r.fields["phone"])]
        holders = store.phone_holders(self.conn, phones) if phones else {}
        return _Batch(
            known=store.existing_uuids(self.conn, [r.uuid for r in rows if r.uuid]),
            by_email=store.uuids_for_keys(self.conn, "email", emails),
            phones={phone: {uuid: (first, last) for uuid, first, last in found}
                    for phone, found in holders.items()})

    def _repeated(self, row: Row, key: str, batch: _Batch) -> bool:
        """An email already given on an earlier line of the file: skip the row, say so."""
        if self.email_lines is None:
            return False
        first = self.email_lines.first(key, row.line)
        if first == row.line or not (key in batch.emails or key in batch.by_email):
            return False
        self.report.errors.append((row.line, (
            f"email {row.fields['email']} is also on line {first}: one row per email, "
            "so this row was skipped (merge the two rows and import it again)")))
        return True

    def _target(self, row: Row, key: str, batch: _Batch) -> tuple[str | None, Review | None]:
        """The person the row updates (None: a new one), and why it is doubtful if it is."""
        if row.uuid and row.uuid in batch.known:
            return row.uuid, None
        if key:
            known = batch.by_email.get(key)
            return batch.emails.get(key) or (known[0] if known else None), None
        fields = row.fields
        if phone := fields["phone"]:
            holders = [(uuid, *names) for uuid, names in batch.phones.get(phone, {}).items()]
            person, doubtful = matching.match_by_phone(
                fields["first_name"], fields["last_name"], holders)
            if not doubtful:
                return person, None
            reason = f"{matching.phone_reason(holders)} ({self.source} line {row.line})"
            return None, (reason, [(uuid, "phone") for uuid in doubtful])
        name = _name_key(fields)
        return batch.names.get(name) or store.uuid_by_name_address(self.conn, *name), None

    def _remember(self, row: Row, key: str, target: str, batch: _Batch) -> None:
        fields = row.fields
        if key:
            batch.emails[key] = target
        if phone := fields["phone"]:
            holders = batch.phones.setdefault(phone, {})
            first, last = holders.get(target, (None, None))
            holders[target] = (fields["first_name"] or first, fields["last_name"] or last)
        if not key and not fields["phone"]:
            batch.names[_name_key(fields)] = target

    def _count(self, person: dict[str, Any], given: dict[str, str]) -> None:
        """Apply a row's values to a person's current values: every row counts once, as
        updated (it changed something) or unchanged."""
        changes = {k: v for k, v in given.items() if person[k] != v}
        person.update(changes)
        if changes:
            self.report.updated += 1
        else:
            self.report.unchanged += 1

    def _write(self, batch: _Batch, now: str) -> None:
        store.insert_people(self.conn, batch.inserts.values())
        self.report.added += len(batch.inserts)
        found = store.people_fields(self.conn, sorted({uuid for uuid, _ in batch.updates}))
        current = {uuid: {k: row[k] for k in PERSON_FIELDS} for uuid, row in found.items()}
        before = {uuid: dict(fields) for uuid, fields in current.items()}
        for uuid, given in batch.updates:
            self._count(current[uuid], given)
        changed = [(uuid, {k: v for k, v in fields.items() if before[uuid][k] != v})
                   for uuid, fields in current.items()]
        store.update_people(self.conn, [(uuid, c) for uuid, c in changed if c], now)
        store.add_taggings(self.conn, batch.taggings)
        reviews_store.record_ambiguous(self.conn, now, batch.reviews)
        self.report.ambiguous += len(batch.reviews)


def _name_key(fields: dict[str, str | None]) -> tuple[str | None, ...]:
    return tuple(fields.get(k) for k in ("first_name", "last_name", "address1", "zip"))
