"""CSV import and export of people.

Import streams the file in batches inside one transaction: every good row is
applied and bad rows are reported by line number, or with `strict` nothing is
applied if any row is bad. A row matches an existing local person by uuid,
then normalized email, then phone (then, for rows with neither, by name and
street address), so importing the same file twice updates and never
duplicates. Empty cells never erase what the node already knows.

Into an empty node (no people yet) the import takes a bulk path: the
secondary indexes of people and taggings are dropped inside the import's
transaction and rebuilt before it commits (one sort instead of a million
random B-tree inserts; a failed or rejected import rolls the DDL back with
everything else), and rows are inserted without looking anything up, since
there is nobody to match. Rows matching each other still must collapse, so
every email, phone (and name + address of rows with neither) goes into a set
of 64-bit hashes; the first row whose key may have been seen before ends the
bulk path: the indexes are rebuilt there and that batch and the rest of the
file go through the matching path, exactly as into a non-empty node.
Triggers are never touched, so taggings of a tag with an active share still
queue their changes.
"""

import csv
import io
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node import normalize
from node.errors import InvalidInput, NodeError
from node.ids import uuid7
from node.import_rows import KeySet, Row, RowCleaner
from node.node import Node
from node.storage import db
from node.storage import people as store
from node.storage.people import PERSON_FIELDS

BATCH_ROWS = 2000
EXPORT_COLUMNS = ("uuid", *PERSON_FIELDS, "tags")

# Our own column names, and those of NationBuilder's people export.
COLUMN_ALIASES = {
    **{name: name for name in EXPORT_COLUMNS},
    "phone_number": "phone",
    "mobile_number": "mobile",
    "primary_address1": "address1",
    "primary_address2": "address2",
    "primary_city": "city",
    "primary_state": "state",
    "primary_zip": "zip",
    "tag_list": "tags",
}


class ImportRejected(NodeError):
    """--strict import with bad rows: nothing was applied."""

    def __init__(self, report: "ImportReport") -> None:
        super().__init__(
            f"{len(report.errors)} bad rows (first on line {report.errors[0][0]}): "
            "nothing was imported; fix them or run without --strict to import the good rows"
        )
        self.report = report


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.errors)

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added, "updated": self.updated, "unchanged": self.unchanged,
            "skipped": self.skipped,
            "errors": [{"line": line, "reason": reason} for line, reason in self.errors],
            "ignored_columns": self.ignored_columns,
        }


def import_csv(
    node: Node, path: Path, *, tags: list[str], strict: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import people from a CSV file; see the module docstring for the rules."""
    extra_tags = [normalize.normalize_tag(t) for t in tags]
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed below, position drives progress
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    with raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        header = _read_header(reader, path)
        mapping, ignored = _map_columns(header)
        report = ImportReport(ignored_columns=ignored)
        cleaner = RowCleaner(mapping, node.region)
        # Into an empty node every reference is to a row this import writes or reads:
        # foreign keys are not checked one by one (see _Importer).
        begin = db.transaction if store.has_people(node.conn) else db.unchecked_transaction
        try:
            with begin(node.conn):
                importer = _Importer(node, report, extra_tags, cleaner)
                for batch in _batches(reader, len(header), report):
                    importer.apply(batch)
                    if progress is not None:
                        progress(raw.tell())
                importer.finish()
                report.errors.sort()
                if strict and report.errors:
                    raise ImportRejected(report)
                node.audit("import", file=str(path), added=report.added,
                           updated=report.updated, skipped=report.skipped)
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"{path} is not UTF-8 text (byte {exc.start} of a chunk): "
                "save it as UTF-8 CSV and try again; nothing was imported"
            ) from None
        except csv.Error as exc:
            raise InvalidInput(
                f"{path} is not valid CSV near line {reader.line_num}: {exc}; nothing was imported"
            ) from None
    return report


def _read_header(reader: Iterator[list[str]], path: Path) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput(f"{path} is empty: expected a header row such as "
                           "first_name,last_name,email,phone") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text: save it as UTF-8 CSV") from None
    return [name.strip().lower() for name in header]


def _map_columns(header: list[str]) -> tuple[dict[int, str], list[str]]:
    mapping: dict[int, str] = {}
    ignored: list[str] = []
    for index, name in enumerate(header):
        target = COLUMN_ALIASES.get(name)
        if target is None or target in mapping.values():
            ignored.append(name)
        else:
            mapping[index] = target
    if not set(mapping.values()) & {*PERSON_FIELDS, "mobile"}:
        raise InvalidInput(
            "no known columns in the header: expected some of "
            + ", ".join(EXPORT_COLUMNS) + " (or NationBuilder's export names)"
        )
    return mapping, ignored


def _batches(
    reader: Iterator[list[str]], width: int, report: ImportReport
) -> Iterator[list[tuple[int, list[str]]]]:
    batch: list[tuple[int, list[str]]] = []
    line = 1
    for cells in reader:
        line += 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != width:
            report.errors.append((line, f"expected {width} columns, found {len(cells)}"))
            continue
        batch.append((line, cells))
        if len(batch) >= BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


class _Importer:
    """Applies batches of parsed rows: look up matches in bulk, then insert or update."""

    def __init__(self, node: Node, report: ImportReport, extra_tags: list[str],
                 cleaner: RowCleaner) -> None:
        self.node = node
        self.conn: sqlite3.Connection = node.conn
        self.report = report
        self.extra_tags = extra_tags
        self.cleaner = cleaner
        self.tag_ids = store.all_tag_ids(self.conn)
        # The bulk path, while the node had nobody when the import began and no row
        # has matched another yet (see the module docstring).
        self.seen: KeySet | None = None
        self.dropped: list[str] = []
        if not store.has_people(self.conn):
            self.seen = KeySet()
            self.dropped = db.drop_indexes(self.conn, store.BULK_LOAD_TABLES)

    def apply(self, batch: list[tuple[int, list[str]]]) -> None:
        rows = self._parse(batch)
        if self.seen is not None and not self._all_new(rows):
            self._end_bulk()
        if self.seen is not None:
            self._insert_new(rows)
        else:
            self._apply_matching(rows)

    def finish(self) -> None:
        """Rebuild what the bulk path dropped; call before COMMIT."""
        self._end_bulk()

    def _end_bulk(self) -> None:
        self.seen = None
        db.create_indexes(self.conn, self.dropped)
        self.dropped = []

    def _parse(self, batch: list[tuple[int, list[str]]]) -> list[Row]:
        rows: list[Row] = []
        clean, extra, errors = self.cleaner.clean, self.extra_tags, self.report.errors
        for line, cells in batch:
            try:
                rows.append(clean(line, cells, extra))
            except InvalidInput as exc:
                errors.append((line, str(exc)))
        return rows

    def _all_new(self, rows: list[Row]) -> bool:
        """Whether no row can match anyone: not already here, nor earlier in the file."""
        given = [r.uuid for r in rows if r.uuid]
        if given and store.existing_uuids(self.conn, given):
            return False
        seen = self.seen
        assert seen is not None
        for row in rows:
            values = row.values
            email, phone = values[2], values[3]
            if email:
                if seen.add(email.lower()):
                    return False
                if phone and seen.add(phone):
                    return False
            elif phone:
                if seen.add(phone):
                    return False
            elif seen.add((values[0], values[1], values[4], values[8])):
                return False
        return True

    def _insert_new(self, rows: list[Row]) -> None:
        now = normalize.now_iso()
        people: list[tuple[str | None, ...]] = []
        taggings: list[tuple[int, str]] = []
        tag_ids = self.tag_ids
        for row in rows:
            uuid = uuid7()
            people.append((uuid, *row.values, now, now))
            for name in row.tags:
                tag = tag_ids.get(name)
                taggings.append((self._tag_id(name) if tag is None else tag, uuid))
        store.insert_new_people(self.conn, people)
        self.report.added += len(people)
        store.add_taggings(self.conn, taggings)

    def _apply_matching(self, rows: list[Row]) -> None:
        for row in rows:
            row.fields = dict(zip(PERSON_FIELDS, row.values, strict=True))
        known, by_email, by_phone = self._lookup(rows)
        inserts: dict[str, dict[str, Any]] = {}
        updates: dict[str, dict[str, object]] = {}
        taggings: list[tuple[int, str]] = []
        now = normalize.now_iso()
        for row in rows:
            target = self._match_one(row, known, by_email, by_phone)
            if target is None:
                target = uuid7()
                inserts[target] = {**row.fields, "uuid": target, "created_at": now,
                                   "updated_at": now}
            elif target in inserts:
                inserts[target].update({k: v for k, v in row.fields.items() if v})
            else:
                updates.setdefault(target, {}).update({k: v for k, v in row.fields.items() if v})
            self._remember(row, target)
            taggings.extend((self._tag_id(name), target) for name in row.tags)
        store.insert_people(self.conn, inserts.values())
        self.report.added += len(inserts)
        self._update(updates, now)
        store.add_taggings(self.conn, taggings)

    def _lookup(
        self, rows: list[Row]
    ) -> tuple[set[str], dict[str, list[str]], dict[str, list[str]]]:
        known_uuids = store.existing_uuids(self.conn, [r.uuid for r in rows if r.uuid])
        by_email = store.uuids_for_keys(
            self.conn, "email", [e for r in rows if (e := r.fields.get("email"))])
        by_phone = store.uuids_for_keys(
            self.conn, "phone", [p for r in rows if (p := r.fields.get("phone"))])
        self.batch_email: dict[str, str] = {}
        self.batch_phone: dict[str, str] = {}
        self.batch_name: dict[tuple[str | None, ...], str] = {}
        return known_uuids, by_email, by_phone

    def _match_one(
        self, row: Row, known: set[str], by_email: dict[str, list[str]],
        by_phone: dict[str, list[str]],
    ) -> str | None:
        if row.uuid and row.uuid in known:
            return row.uuid
        email = (row.fields.get("email") or "").lower()
        phone = row.fields.get("phone") or ""
        if email:
            found = self.batch_email.get(email) or _first(by_email.get(email))
            if found:
                return found
        if phone:
            found = self.batch_phone.get(phone) or _first(by_phone.get(phone))
            if found:
                return found
        if not email and not phone:
            key = _name_key(row.fields)
            return self.batch_name.get(key) or self._by_name(row.fields)
        return None

    def _remember(self, row: Row, uuid: str) -> None:
        if email := row.fields.get("email"):
            self.batch_email[email.lower()] = uuid
        if phone := row.fields.get("phone"):
            self.batch_phone[phone] = uuid
        if not row.fields.get("email") and not row.fields.get("phone"):
            self.batch_name[_name_key(row.fields)] = uuid

    def _by_name(self, fields: dict[str, str | None]) -> str | None:
        return store.uuid_by_name_address(self.conn, *_name_key(fields))

    def _update(self, updates: dict[str, dict[str, object]], now: str) -> None:
        current = store.people_fields(self.conn, list(updates))
        for uuid, fields in updates.items():
            row = current[uuid]
            changes = {k: v for k, v in fields.items() if row[k] != v}
            if changes:
                store.update_person(self.conn, uuid, changes, now)
                self.report.updated += 1
            else:
                self.report.unchanged += 1

    def _tag_id(self, name: str) -> int:
        if name not in self.tag_ids:
            self.tag_ids[name] = store.tag_id(self.conn, name, create=True) or 0
        return self.tag_ids[name]


def _first(values: list[str] | None) -> str | None:
    return values[0] if values else None


def _name_key(fields: dict[str, str | None]) -> tuple[str | None, ...]:
    return tuple(fields.get(k) for k in ("first_name", "last_name", "address1", "zip"))
