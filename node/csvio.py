"""CSV import and export of people.

Import streams the file in batches inside one transaction: every good row is
applied and bad rows are reported by line number, or with `strict` nothing is
applied if any row is bad. A row matches an existing local person by uuid, then
by the rule of node/matching.py: two different emails are two different people,
always; a row without an email may update the one person who holds its phone, and
is added as a new person and listed for review (`tagshare match list`) when that is
doubtful (node/import_matching.py). Importing the same file twice updates and never
duplicates; an email repeated within one file is skipped, naming both lines. Empty
cells never erase what the node already knows.

Into an empty node (no people yet) the import takes a bulk path: the
secondary indexes of people and taggings are dropped inside the import's
transaction and rebuilt before it commits (one sort instead of a million
random B-tree inserts; a failed or rejected import rolls the DDL back with
everything else), and rows are inserted without looking anything up, since
there is nobody to match. The search index's insert trigger is dropped too: the
people are indexed SEARCH_INDEX_ROWS at a time, while the cleaner works on the
next rows, and the taggings set aside for them are added with them.

Rows matching each other still must be found: the cleaner
(node/import_worker.py, in a second process for a large file) keeps every
email's first line and a set of 64-bit hashes of every phone (and the name +
address of rows with neither), and says of each batch whether a row may repeat an
earlier one (an email seen before, or a row without an email whose phone or name
and address was seen before). Such a batch ends the bulk path: the indexes are
rebuilt there and that batch and the rest of the file go through the matching
path, exactly as into a non-empty node, which names a repeated email's first line
from the same record.
The outbox triggers are never touched, so taggings of a tag with an active share
still queue their changes.
"""

import csv
import io
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagshare.node import import_worker, normalize
from tagshare.node.errors import InvalidInput, NodeError
from tagshare.node.ids import uuid7s
from tagshare.node.import_matching import MatchingPath
from tagshare.node.import_rows import FirstLines, Row
from tagshare.node.import_worker import PERSON_STRIDE, CleanBatch, CleaningJob
from tagshare.node.node import Node
from tagshare.node.storage import db, search
from tagshare.node.storage import people as store
from tagshare.node.storage.people import PERSON_FIELDS

BATCH_ROWS = 2000
# From this size on a file's rows are cleaned in a second process (node/import_worker.py)
# on a machine of two cores or more, busy or not. The split costs little CPU (a child
# starting in about 0.07 s, batches pickled as a few lists): at 100,000 rows (11.6 MB)
# 2.8 s in all, writer 1.4 + cleaner 1.4, against 2.3-3.1 s in process (load 1.6), and
# on a busy machine the two processes get two shares of the cores where one gets one.
# Smaller files gain too little for the start: 20,000 rows (2.3 MB) 0.9 s CPU in all
# against 0.65 in process (docs/performance.md, issue 14).
CHILD_MIN_BYTES = 8_000_000
# The bulk path adds its people to the search index, and the taggings it set aside for
# them, this many at a time, while the cleaner works on the next rows, rather than
# rebuilding the index and adding every tagging at the end (docs/performance.md).
SEARCH_INDEX_ROWS = 20_000
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
    ambiguous: int = 0  # rows added as new people and listed for review (also in `added`)
    errors: list[tuple[int, str]] = field(default_factory=list)
    reviews: list[tuple[int, str, str]] = field(default_factory=list)  # line, person, why
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.errors)

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added, "updated": self.updated, "unchanged": self.unchanged,
            "skipped": self.skipped, "ambiguous": self.ambiguous,
            "errors": [{"line": line, "reason": reason} for line, reason in self.errors],
            "reviews": [{"line": line, "person": person, "reason": reason}
                        for line, person, reason in self.reviews],
            "ignored_columns": self.ignored_columns,
        }


def import_csv(
    node: Node, path: Path, *, tags: list[str], strict: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import people from a CSV file; see the module docstring for the rules."""
    extra_tags = [normalize.normalize_tag(t) for t in tags]
    try:
        with open(path, "rb") as raw:
            reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""))
            header = _read_header(reader, path)
            size = os.fstat(raw.fileno()).st_size
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    mapping, ignored = _map_columns(header)
    report = ImportReport(ignored_columns=ignored)
    empty = not store.has_people(node.conn)
    job = CleaningJob(str(path), mapping, len(header), node.region, extra_tags, BATCH_ROWS)
    in_child = size >= CHILD_MIN_BYTES and _two_cores()
    # Into an empty node every reference is to a row this import writes or reads:
    # foreign keys are not checked one by one (see _Importer).
    begin = db.unchecked_transaction if empty else db.transaction
    with begin(node.conn), import_worker.cleaned(job, in_child=in_child) as batches:
        importer = _Importer(node, report, Path(path).name)
        for batch in batches:
            report.errors.extend(batch.errors)
            importer.apply(batch)
            if progress is not None:
                progress(batch.position)
        importer.finish()
        report.errors.sort()
        if strict and report.errors:
            raise ImportRejected(report)
        node.audit("import", file=str(path), added=report.added,
                   updated=report.updated, skipped=report.skipped,
                   ambiguous=report.ambiguous)
    return report


def _two_cores() -> bool:
    """Whether a second process can run beside the writer (see CHILD_MIN_BYTES)."""
    return (os.cpu_count() or 1) >= 2


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


class _TagIds:
    """Tag ids by name, read once; a name not known yet is created on its first use."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.known = store.all_tag_ids(conn)

    def __call__(self, name: str) -> int:
        if name not in self.known:
            self.known[name] = store.tag_id(self.conn, name, create=True) or 0
        return self.known[name]


class _Importer:
    """Applies batches of parsed rows: the bulk path while it lasts, then the matching
    path (node/import_matching.py)."""

    def __init__(self, node: Node, report: ImportReport, source: str) -> None:
        self.node = node
        self.conn: sqlite3.Connection = node.conn
        self.report = report
        self.tag_id = _TagIds(self.conn)
        self.email_lines = _FirstLinesFound()
        self.matching = MatchingPath(self.conn, report, self.email_lines, source,
                                     self.tag_id)
        # The bulk path, while the node had nobody when the import began and no row
        # has matched another yet (see the module docstring).
        self.bulk = not store.has_people(self.conn)
        self.dropped: list[str] = []
        if self.bulk:
            self.dropped = db.drop_indexes(self.conn, store.BULK_LOAD_TABLES)
        self.indexed = 0  # the bulk path's people are in the search index up to this rowid
        self.unindexed = 0  # people the bulk path inserted since

    def apply(self, batch: CleanBatch) -> None:
        if self.bulk and not self._all_new(batch):
            self._end_bulk()
        if self.bulk:
            self._insert_new(batch)
        else:
            self.email_lines.found = batch.first_lines
            self.matching.apply(batch.rows())

    def finish(self) -> None:
        """Rebuild what the bulk path dropped; call before COMMIT."""
        self._end_bulk()

    def _end_bulk(self) -> None:
        if self.bulk:
            search.index_people_after(self.conn, self.indexed)
        self.bulk = False
        store.add_staged_taggings(self.conn)
        db.create_indexes(self.conn, self.dropped)
        self.dropped = []

    def _all_new(self, batch: CleanBatch) -> bool:
        """Whether no row can match anyone: not already here, nor earlier in the file
        (which the cleaner tells: node/import_worker.py's Repeats)."""
        given = [uuid for uuid in batch.given if uuid]
        return not batch.may_repeat and not (given and store.existing_uuids(self.conn, given))

    def _insert_new(self, batch: CleanBatch) -> None:
        """Insert the batch's rows as new people, with uuids minted for them here (the
        writer, whose work fits in the time the cleaner takes for the next batch)."""
        for name in batch.new_tags:
            self.tag_id(name)
        minted = uuid7s(len(batch.lines))
        batch.people[::PERSON_STRIDE] = minted
        store.insert_new_people(self.conn, batch.people, normalize.now_iso())
        taggings = [item for uuid, tags in zip(minted, batch.tags, strict=True)
                    for name in tags for item in (name, uuid)]
        store.stage_taggings(self.conn, taggings)
        self.report.added += len(batch.lines)
        self.unindexed += len(batch.lines)
        if self.unindexed >= SEARCH_INDEX_ROWS:
            self.indexed = search.index_people_after(self.conn, self.indexed)
            store.add_staged_taggings(self.conn)
            self.unindexed = 0


class _FirstLinesFound(FirstLines):
    """The first line of each email of the file, as the cleaner found it in file order
    (node/import_worker.py), for the matching path's batch at hand."""

    def __init__(self) -> None:
        self.found: dict[int, int] = {}  # a repeating row's line -> its email's first line

    def first(self, key: object, line: int) -> int:
        return self.found.get(line, line)


def apply_rows(node: Node, rows: list[Row]) -> tuple[ImportReport, list[str]]:
    """Checked rows matched and applied exactly as an import applies a file's rows,
    inside the caller's transaction (the OSDI API and pull); the report, and the uuid
    each row landed on (rows repeating an email land on the same person)."""
    report = ImportReport()
    path = MatchingPath(node.conn, report, None, "osdi", _TagIds(node.conn))
    return report, path.apply(rows)
