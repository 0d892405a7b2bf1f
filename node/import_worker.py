"""Reading and cleaning an import's rows, in a second process for a large file.

`clean_batches` parses the CSV and cleans every row (node/import_rows.py: emails
checked, phones to E.164, tags listed) into batches of rows, the bad rows by line,
and how far into the file it is. For a large file `cleaned` runs it in a child
process (a bare interpreter running `serve`) that feeds the importer, the one writer,
pickled batches through a pipe; the writer reads up to QUEUE_BATCHES of them ahead
and the child waits beyond that, so memory stays flat whatever the file's size, and
while the writer applies one batch the child cleans the next: both cores work. A
small file is cleaned in process, where a child would cost more to start than it
saves.

Either way the importer sees the same batches, in file order, with the same line
numbers and reasons; a file that is not UTF-8 or not CSV raises InvalidInput with
the same message. A child that fails, or dies, raises CleanerFailed in the writer,
whose transaction then rolls back: nothing is imported, and the child is never left
behind (the writer ends it; a child whose writer has gone stops by itself).
"""

import csv
import io
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import IO, BinaryIO

from tagshare.node.errors import InvalidInput, NodeError
from tagshare.node.import_rows import FirstLines, KeySet, Row, RowCleaner
from tagshare.node.storage.columns import PERSON_FIELDS

QUEUE_BATCHES = 8  # batches the writer reads ahead of what it applies
_POLL_S = 0.1


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


# A person in CleanBatch.people: its new uuid (None until the bulk path mints it), then
# its fields.
PERSON_STRIDE = 1 + len(PERSON_FIELDS)
_FIRST, _LAST, _EMAIL, _PHONE, _ADDRESS1, _ZIP = (
    1 + PERSON_FIELDS.index(name)
    for name in ("first_name", "last_name", "email", "phone", "address1", "zip"))


@dataclass
class CleanBatch:
    """A batch of the file's good rows, column by column, and its bad rows.

    Columns rather than an object a row: a batch crosses the pipe as a few lists of
    strings (rows with the same tags share one tuple), and the bulk path binds `people`
    to its statement as it is, once it has put the new uuids in (node/storage/people.py),
    without a tuple made per row; `rows()` makes Row objects for the matching path.
    """

    lines: list[int] = field(default_factory=list)  # each good row's line
    people: list[str | None] = field(default_factory=list)  # PERSON_STRIDE values a row
    tags: list[tuple[str, ...]] = field(default_factory=list)  # each row's tags
    given: list[str | None] = field(default_factory=list)  # each row's uuid in the file
    errors: list[tuple[int, str]] = field(default_factory=list)  # line, reason
    position: int = 0  # bytes of the file read so far
    new_tags: list[str] = field(default_factory=list)  # names no earlier batch used
    # Rows repeating an earlier row's email: line -> the first line with that email.
    first_lines: dict[int, int] = field(default_factory=dict)
    # Whether a row may repeat an earlier one of the file (an email, or without an email a
    # phone or a name and address seen before): the end of the bulk path (csvio).
    may_repeat: bool = False

    def rows(self) -> list[Row]:
        people, stride = self.people, PERSON_STRIDE
        return [Row(line, tuple(people[start + 1:start + stride]), list(tags), uuid)
                for start, line, tags, uuid
                in zip(range(0, len(people), stride), self.lines, self.tags, self.given,
                       strict=True)]


class Repeats:
    """What each row repeats of the file's earlier rows, seen in file order, in bounded
    memory (node/import_rows.py): FirstLines of emails for the matching path's "also on
    line N", and a KeySet of phones and names with addresses for the bulk path."""

    def __init__(self) -> None:
        self.emails = FirstLines()
        self.seen = KeySet()

    def note(self, batch: CleanBatch) -> None:
        first, seen, lines = self.emails.first, self.seen.add, batch.first_lines
        people, stride = batch.people, PERSON_STRIDE
        repeat = False
        for start, line, email, phone in zip(range(0, len(people), stride), batch.lines,
                                             people[_EMAIL::stride], people[_PHONE::stride],
                                             strict=True):
            if email:
                earlier = first(email.lower(), line)
                if earlier != line:
                    lines[line] = earlier
                    repeat = True
                if phone:  # a later row without an email may repeat it
                    seen(phone)
            elif phone:
                repeat = seen(phone) or repeat
            else:
                repeat = seen((people[start + _FIRST], people[start + _LAST],
                               people[start + _ADDRESS1], people[start + _ZIP])) or repeat
        batch.may_repeat = repeat


Clean = Callable[[CleaningJob], Iterator[CleanBatch]]


def clean_batches(job: CleaningJob) -> Iterator[CleanBatch]:
    """The file's rows after its header, cleaned, in batches of job.batch_rows."""
    with open(job.path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        cleaner = RowCleaner(job.mapping, job.region, job.extra_tags)
        repeats = Repeats()
        tag_names: set[str] = set()
        try:
            next(reader, None)  # the header, which the importer read and mapped
            for lines, errors in _parsed(reader, job):
                batch = _cleaned(lines, errors, cleaner, job, raw.tell())
                repeats.note(batch)
                batch.new_tags = _new_names(batch.tags, tag_names)
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


def _new_names(tags_of: list[tuple[str, ...]], known: set[str]) -> list[str]:
    """The names not in `known`, in order of first use; `known` now has them."""
    new = [name for tags in tags_of for name in tags if name not in known]
    known.update(new)
    return list(dict.fromkeys(new))


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
        if not "".join(cells).strip():  # only blanks
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
    batch = CleanBatch(errors=errors, position=position)
    good, people, tags_of, given = batch.lines, batch.people, batch.tags, batch.given
    clean = cleaner.clean
    for line, cells in lines:
        try:
            uuid, values, tags = clean(cells)
        except InvalidInput as exc:
            errors.append((line, str(exc)))
            continue
        good.append(line)
        people.append(None)
        people.extend(values)
        tags_of.append(tags)
        given.append(uuid)
    return batch


@contextmanager
def cleaned(job: CleaningJob, *, in_child: bool,
            clean: Clean = clean_batches) -> Iterator[Iterator[CleanBatch]]:
    """The job's batches, cleaned in a child process (`in_child`) or in this one.
    `clean` is what cleans them (tests give one that fails); for a child it must be a
    module-level function, which the child imports by name."""
    child = _started(job, clean) if in_child else None
    if child is None:
        yield clean(job)
        return
    assert child.stdout is not None
    inbox = _ReadAhead(child.stdout)
    try:
        yield _received(inbox, child)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        inbox.close()


def _started(job: CleaningJob, clean: Clean) -> "subprocess.Popen[bytes] | None":
    """A child cleaning the job, or None if no child can be started here (then the
    rows are cleaned in process). A bare interpreter running `serve`: it imports only
    this module and what cleaning needs (0.06-0.08 s), not the command line that
    started the writer (multiprocessing's spawn re-ran it: 0.6 s)."""
    if not sys.executable:
        return None
    try:
        # -P: the working directory is not put on the child's path (a `tagshare` folder
        # there would be imported before ours); the writer's path is sent next.
        child = subprocess.Popen([sys.executable, "-P", "-c", _CHILD_MAIN],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
    except OSError:
        return None
    assert child.stdin is not None
    try:
        with child.stdin as job_pipe:
            pickle.dump(sys.path, job_pipe)  # first, so that `clean` can be imported
            pickle.dump((job, clean), job_pipe)
    except OSError:  # it died at once: _received reports how it ended
        pass
    return child


_CHILD_MAIN = "from tagshare.node.import_worker import serve; serve()"


class _ReadAhead:
    """The child's messages, read from the pipe by a thread as they come, up to
    QUEUE_BATCHES ahead of the writer: while the writer is busy (a chunk of the search
    index, a statement that waits on the disk) the child goes on cleaning instead of
    waiting on a full pipe (64 KB, where a batch of 2,000 rows is about 330 KB). The
    thread only reads bytes (the GIL is free meanwhile); the writer unpickles them."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.messages: queue.Queue[bytes | None] = queue.Queue(QUEUE_BATCHES)
        self.thread = threading.Thread(target=self._read, name="tagshare-import-reader",
                                       daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            while (message := _read_message(self.stream)) is not None:
                self.messages.put(message)
        finally:
            self.messages.put(None)  # the end: the child ended, maybe in mid-message

    def get(self) -> bytes | None:
        return self.messages.get()

    def close(self) -> None:
        """Once the child has ended: let the thread read to the end, then close."""
        while self.thread.is_alive():
            with suppress(queue.Empty):
                self.messages.get(timeout=_POLL_S)
        self.thread.join()
        self.stream.close()


def _read_message(stream: IO[bytes]) -> bytes | None:
    """One message (its length in 8 bytes, then its pickle), or None at the end."""
    head = stream.read(8)
    size = int.from_bytes(head, "big") if len(head) == 8 else -1
    message = stream.read(size) if size >= 0 else b""
    return message if size >= 0 and len(message) == size else None


def _received(inbox: _ReadAhead, child: "subprocess.Popen[bytes]") -> Iterator[CleanBatch]:
    while (message := inbox.get()) is not None:
        kind, said = pickle.loads(message)
        if kind == "end":
            child.wait()  # it has said all, and ends
            return
        if kind == "batch":
            yield said
        elif kind == "invalid":
            raise InvalidInput(said)
        else:
            raise CleanerFailed(f"the process cleaning the rows failed ({said}): "
                                "nothing was imported")
    raise CleanerFailed(f"the process cleaning the rows stopped (exit code {child.wait()}): "
                        "nothing was imported")


def serve() -> None:
    """The child: read the job from stdin, write its batches and how it ended to stdout.
    If the writer has gone, the next write fails (a closed pipe) and the child ends."""
    job_pipe = sys.stdin.buffer
    sys.path[:] = pickle.load(job_pipe)
    job, clean = pickle.load(job_pipe)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # nothing else may write into the stream
    try:
        _send_batches(job, clean, out)
        out.close()
    except BrokenPipeError:
        os._exit(1)


def _send_batches(job: CleaningJob, clean: Clean, out: BinaryIO) -> None:
    def send(kind: str, said: object = None) -> None:
        message = pickle.dumps((kind, said), protocol=pickle.HIGHEST_PROTOCOL)
        out.write(len(message).to_bytes(8, "big"))
        out.write(message)
        out.flush()

    try:
        for batch in clean(job):
            send("batch", batch)
        send("end")
    except InvalidInput as exc:
        send("invalid", str(exc))
    except BrokenPipeError:
        raise
    except Exception as exc:  # any other failure is the writer's to report, not a traceback
        send("failed", f"{type(exc).__name__}: {exc}")
