"""node/storage/db.py helpers that the server runs beside its database thread."""

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tagshare.node.storage import db


@pytest.fixture
def conn(tmp_path: Path):
    connection = db.connect(tmp_path / "node.db", create=True)
    connection.execute("PRAGMA wal_autocheckpoint = 0")  # leave every page to the test
    yield connection
    connection.close()


def _write(conn: sqlite3.Connection, n: int, prefix: str = "t") -> None:
    with db.transaction(conn):
        conn.executemany("INSERT INTO tags (name) VALUES (?)",
                         [(f"{prefix}{i}",) for i in range(n)])


def _frames(conn: sqlite3.Connection) -> tuple[int, int]:
    """(frames in the WAL, frames already copied into the database file)."""
    _, in_log, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return in_log, copied


def test_checkpointer_copies_committed_pages_from_its_own_connection(conn, tmp_path):
    _write(conn, 2000)
    checkpointer = db.Checkpointer(conn)
    try:
        assert checkpointer.run() == 0  # nothing left behind
    finally:
        checkpointer.close()
    with closing(sqlite3.connect(f"file:{tmp_path / 'node.db'}?mode=ro", uri=True)) as reader:
        assert reader.execute("SELECT count(*) FROM tags").fetchone()[0] == 2000
    in_log, copied = _frames(conn)
    assert in_log > 0 and copied == in_log


def test_checkpointer_leaves_pages_a_reader_still_needs(conn, tmp_path):
    """A passive checkpoint never blocks: it copies what it can and reports the rest."""
    _write(conn, 10)
    reader = sqlite3.connect(tmp_path / "node.db", isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM tags").fetchone()  # holds this snapshot
        _write(conn, 2000, prefix="u")
        checkpointer = db.Checkpointer(conn)
        try:
            assert checkpointer.run() > 0
            reader.execute("COMMIT")
            assert checkpointer.run() == 0
        finally:
            checkpointer.close()
    finally:
        reader.close()


def test_commit_watch_sees_other_connections_commit(conn, tmp_path):
    watch = db.CommitWatch(conn)
    try:
        before = watch.version()
        assert watch.version() == before  # nothing happened
        with closing(db.connect(tmp_path / "node.db")) as other:
            _write(other, 1)
        assert watch.version() != before
    finally:
        watch.close()


def test_a_commit_that_changed_something_pokes_the_serving_node(conn, monkeypatch):
    """Only a transaction that wrote wakes the node (an empty one, such as a batch build
    that found nothing ready, must not start a sync round)."""
    from tagshare.node import wakeup

    poked: list[str] = []
    monkeypatch.setattr(wakeup, "poke", poked.append)
    with db.transaction(conn):
        pass
    assert poked == []
    _write(conn, 7)
    assert poked == [db.file_of(conn)]
    with pytest.raises(RuntimeError), db.transaction(conn):
        conn.execute("INSERT INTO tags (name) VALUES ('rolled-back')")
        raise RuntimeError("rolled back")
    assert poked == [db.file_of(conn)]
