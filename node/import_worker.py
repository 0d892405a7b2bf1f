"""Reading and cleaning an import's rows, in a second process for a large file.

`clean_batches` parses the CSV and cleans every row (node/import_rows.py: emails
checked, phones to E.164, tags listed) into batches of rows, the bad rows by line,
and how far into the file it is. For a large file `cleaned` runs it in a child
process that feeds the importer, the one writer, through a bounded queue (at most
QUEUE_BATCHES batches in flight, so memory stays flat whatever the file's size):
while the writer applies one batch the child cleans the next, and both cores
work. A small file is cleaned in process, where a child would cost more to start
than it saves.

Either way the importer sees the same batches, in file order, with the same line
numbers and reasons; a file that is not UTF-8 or not CSV raises InvalidInput with
the same message. A child that fails, or dies, raises CleanerFailed in the writer,
whose transaction then rolls back: nothing is imported, and the child is never left
behind (the writer ends it; a child whose writer has gone stops by itself).
"""

import csv
import io
import multiprocessing
import os
import queue
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any

from tagshare.node.errors import InvalidInput, NodeError
from tagshare.node.ids import uuid7s
from tagshare.node.import_rows import FirstLines, KeySet, Row, RowCleaner

QUEUE_BATCHES = 4
_POLL_S = 0.5


class CleanerFailed(NodeError):
    """The process cleaning an import's rows failed or died."""


@dataclass(frozen=True)
class CleaningJob:
    """What cleaning a file needs, all of it plain data a child process can receive."""

    path: str
    mapping: dict[int, str]  # column index -> our field (csvio._map_columns)
    width: int  # columns in the header
    region: str
    extra_tags: list[str]
    batch_rows: int
    mint: bool  # also mint a new uuid for each row (an import into an empty node)


@dataclass
class CleanBatch:
    rows: list[Row]
    errors: list[tuple[int, str]]  # line, reason
    position: int  # bytes of the file read so far
    uuids: list[str] = field(default_factory=list)  # one per row if the job mints
    # Rows repeating an earlier row's email: line -> the first line with that email.
    first_lines: dict[int, int] = field(default_factory=dict)
    # Whether a row may repeat an earlier one of the file (an email, or without an email a
    # phone or a name and address seen before): the end of the bulk path (csvio).
    may_repeat: bool = False


class Repeats:
    """What each row repeats of the file's earlier rows, seen in file order, in bounded
    memory (node/import_rows.py): FirstLines of emails for the matching path's "also on
    line N", and a KeySet of phones and names with addresses for the bulk path."""

    def __init__(self) -> None:
        self.emails = FirstLines()
        self.seen = KeySet()

    def note(self, batch: CleanBatch) -> None:
        first, seen, lines = self.emails.first, self.seen.add, batch.first_lines
        repeat = False
        for row in batch.rows:
            values = row.values
            email, phone = values[2], values[3]
            if email:
                line = first(email.lower(), row.line)
                if line != row.line:
                    lines[row.line] = line
                    repeat = True
                if phone:  # a later row without an email may repeat it
                    seen(phone)
            elif phone:
                repeat = seen(phone) or repeat
            else:
                repeat = seen((values[0], values[1], values[4], values[8])) or repeat
        batch.may_repeat = repeat


Clean = Callable[[CleaningJob], Iterator[CleanBatch]]


def clean_batches(job: CleaningJob) -> Iterator[CleanBatch]:
    """The file's rows after its header, cleaned, in batches of job.batch_rows."""
    with open(job.path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        cleaner = RowCleaner(job.mapping, job.region)
        repeats = Repeats()
        try:
            next(reader, None)  # the header, which the importer read and mapped
            for lines, errors in _parsed(reader, job):
                batch = _cleaned(lines, errors, cleaner, job, raw.tell())
                repeats.note(batch)
                yield batch
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"{job.path} is not UTF-8 text (byte {exc.start} of a chunk): "
                "save it as UTF-8 CSV and try again; nothing was imported"
            ) from None
        except csv.Error as exc:
            raise InvalidInput(
                f"{job.path} is not valid CSV near line {reader.line_num}: {exc}; "
                "nothing was imported"
            ) from None


def _parsed(reader: Iterator[list[str]], job: CleaningJob
            ) -> Iterator[tuple[list[tuple[int, list[str]]], list[tuple[int, str]]]]:
    """Records with their line numbers (a record is one line, even a quoted multi-line
    one), skipping blank ones; a record of the wrong width is a bad row."""
    batch: list[tuple[int, list[str]]] = []
    errors: list[tuple[int, str]] = []
    width, size = job.width, job.batch_rows
    line = 1
    for cells in reader:
        line += 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != width:
            errors.append((line, f"expected {width} columns, found {len(cells)}"))
            continue
        batch.append((line, cells))
        if len(batch) >= size:
            yield batch, errors
            batch, errors = [], []
    if batch or errors:
        yield batch, errors


def _cleaned(lines: list[tuple[int, list[str]]], errors: list[tuple[int, str]],
             cleaner: RowCleaner, job: CleaningJob, position: int) -> CleanBatch:
    clean, extra = cleaner.clean, job.extra_tags
    rows: list[Row] = []
    for line, cells in lines:
        try:
            rows.append(clean(line, cells, extra))
        except InvalidInput as exc:
            errors.append((line, str(exc)))
    uuids = uuid7s(len(rows)) if job.mint else []
    return CleanBatch(rows, errors, position, uuids)


@contextmanager
def cleaned(job: CleaningJob, *, in_child: bool,
            clean: Clean = clean_batches) -> Iterator[Iterator[CleanBatch]]:
    """The job's batches, cleaned in a child process (`in_child`) or in this one.
    `clean` is what cleans them (tests give one that fails)."""
    if not in_child:
        yield clean(job)
        return
    context = multiprocessing.get_context("spawn")  # never fork a process holding SQLite
    out: Any = context.Queue(QUEUE_BATCHES)
    child = context.Process(target=_work, args=(job, out, os.getpid(), clean),
                            name="tagshare-import-cleaner", daemon=True)
    child.start()
    try:
        yield _received(out, child)
    finally:
        if child.is_alive():
            child.terminate()
        child.join()
        out.close()
        out.cancel_join_thread()


def _received(out: Any, child: BaseProcess) -> Iterator[CleanBatch]:
    while True:
        try:
            message = out.get(timeout=_POLL_S)
        except queue.Empty:
            if child.is_alive():
                continue
            try:  # it may have said something just before it ended
                message = out.get(timeout=_POLL_S)
            except queue.Empty:
                raise CleanerFailed(
                    f"the process cleaning the rows stopped (exit code {child.exitcode}): "
                    "nothing was imported") from None
        kind = message[0]
        if kind == "end":
            return
        if kind == "batch":
            _, rows, *rest = message
            yield CleanBatch([Row(*row) for row in rows], *rest)
        elif kind == "invalid":
            raise InvalidInput(message[1])
        else:
            raise CleanerFailed(f"the process cleaning the rows failed ({message[1]}): "
                                "nothing was imported")


def _work(job: CleaningJob, out: Any, parent: int, clean: Clean) -> None:
    """The child: clean the job's batches onto `out`, then say how it ended."""
    try:
        for batch in clean(job):
            rows = [(r.line, r.values, r.tags, r.uuid) for r in batch.rows]
            if not _put(out, ("batch", rows, batch.errors, batch.position, batch.uuids,
                               batch.first_lines, batch.may_repeat), parent):
                return
        _put(out, ("end",), parent)
    except InvalidInput as exc:
        _put(out, ("invalid", str(exc)), parent)
    except Exception as exc:  # any other failure is the writer's to report, not a traceback
        _put(out, ("failed", f"{type(exc).__name__}: {exc}"), parent)


def _put(out: Any, message: tuple[Any, ...], parent: int) -> bool:
    """Queue a message, waiting while the queue is full; False if the writer is gone."""
    while True:
        try:
            out.put(message, timeout=_POLL_S)
            return True
        except queue.Full:
            if os.getppid() != parent:
                return False
