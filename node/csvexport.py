"""CSV export of people, for spreadsheets and for programs.

The file is the owner's alone: created 0600 (never briefly readable by others, whatever
the umask) and renamed over the target once whole. Values a spreadsheet would run as a
formula (a name a peer sent as `=HYPERLINK(...)`) are turned into text, unless the
caller asks for `raw` values. Every export is audited.
"""

import csv
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from tagshare.node.coordination import window_start
from tagshare.node.csvio import EXPORT_COLUMNS
from tagshare.node.errors import InvalidInput
from tagshare.node.node import Node
from tagshare.node.storage import db
from tagshare.node.storage import people as store
from tagshare.node.storage.people import PERSON_FIELDS


def export_csv(node: Node, out: IO[str], *, tag: str | None = None,
               target: str = "-", not_contacted_since: str | None = None,
               raw: bool = False) -> int:
    """Write people as CSV (the import's own column names); audited. Returns rows written.
    `not_contacted_since` (e.g. '14d') makes a walk list: nobody contacted in the window.
    Cells a spreadsheet would run as a formula are neutralized unless `raw` (see
    `spreadsheet_safe`)."""
    since = (window_start(not_contacted_since, "--not-contacted-since")
             if not_contacted_since is not None else None)
    csv.writer(out).writerow(EXPORT_COLUMNS)
    writer = csv.writer(out) if raw else csv.writer(out, quoting=csv.QUOTE_ALL)
    written = 0
    for chunk in _chunks(store.list_people(node.conn, tag=tag, not_contacted_since=since),
                         1000):
        tags = store.tags_of(node.conn, [row["uuid"] for row in chunk])
        for row in chunk:
            cells = [row["uuid"], *(row[f] or "" for f in PERSON_FIELDS),
                     ",".join(tags[row["uuid"]])]
            writer.writerow(cells if raw else spreadsheet_safe(cells))
        written += len(chunk)
    with db.transaction(node.conn):
        window = {} if since is None else {"not_contacted_since": not_contacted_since}
        node.audit("export", target=target, rows=written, filter={"tag": tag, **window},
                   **({"raw": True} if raw else {}))
    return written


def export_csv_file(node: Node, path: Path, *, tag: str | None = None,
                    not_contacted_since: str | None = None, raw: bool = False) -> int:
    """export_csv into `path`, readable by its owner only (0600) from its first byte,
    whatever the umask; an existing file is replaced whole, and is 0600 afterwards too."""
    with _private_output(path) as out:
        return export_csv(node, out, tag=tag, target=str(path),
                          not_contacted_since=not_contacted_since, raw=raw)


# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
# (OWASP "CSV Injection"; ASVS 1.2.10 adds NUL); a quote in front makes it text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_PHONE = EXPORT_COLUMNS.index("phone")


def spreadsheet_safe(cells: list[str]) -> list[str]:
    """Prefix ' to every cell that a spreadsheet would evaluate, also after leading spaces.

    A phone that is exactly E.164 (`+` and digits, as the node stores them) stays as it is:
    digits alone can call no function, and a quote in every phone cell would spoil the
    column. Any other phone value (a peer's, say) is neutralized like every other cell.
    """
    safe = []
    for index, cell in enumerate(cells):
        if (cell.startswith(FORMULA_TRIGGERS) or cell.lstrip().startswith(FORMULA_TRIGGERS)) \
                and not (index == _PHONE and _E164.fullmatch(cell)):
            cell = "'" + cell
        safe.append(cell)
    return safe


@contextmanager
def _private_output(path: Path) -> Iterator[IO[str]]:
    """A text file at `path` created 0600 (mkstemp, O_EXCL), renamed over `path` once whole.

    A FIFO or a device (`/dev/stdout`) is written in place: there is no file to protect.
    """
    if path.exists() and not path.is_file():
        with open(path, "w", newline="", encoding="utf-8") as handle:
            yield handle
        return
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _chunks(rows: Iterator[sqlite3.Row], size: int) -> Iterator[list[sqlite3.Row]]:
    chunk: list[sqlite3.Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
