"""Backing up and restoring a node's database.

`backup` uses SQLite's online backup, so it is safe while `serve` runs. A
restore rolls the node back in time, which its peers must hear about: every
share it grants gets a new epoch and is re-sent in full (the subscriber drops
what the resend no longer contains), every share it receives asks its granter
for a full resend, and the change counter jumps past anything issued before
the restore, so new changes are never mistaken for old ones.
"""

import os
import sqlite3
import time
from pathlib import Path

from tagshare.node import normalize
from tagshare.node.clock import random_bytes
from tagshare.node.errors import InvalidInput, NodeError
from tagshare.node.home import DB_FILE
from tagshare.node.node import Node
from tagshare.node.serve_lock import holding_home
from tagshare.node.storage import db, meta, outbox
from tagshare.node.storage import shares as store
from tagshare.protocol import ShareResync, b64u_encode

PID_FILE = "serve.pid"


def backup(node: Node, target: Path, *, force: bool = False) -> int:
    """Copy the live database to `target` (0600); returns its size in bytes."""
    if target.exists() and not force:
        raise InvalidInput(f"{target} exists: choose another file or pass --force")
    if target.resolve() == (node.home / DB_FILE).resolve():
        raise InvalidInput("the backup cannot be the node's own database")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    copy = sqlite3.connect(target)
    try:
        node.conn.backup(copy)
    finally:
        copy.close()
    target.chmod(0o600)
    with db.transaction(node.conn):
        node.audit("backup", file=str(target))
    return target.stat().st_size


def serving_pid(home: Path) -> int | None:
    """The pid of a `serve` running on this home, if any."""
    try:
        pid = int((home / PID_FILE).read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def restore(node: Node, source: Path) -> dict[str, int]:
    """Replace the node's database with a backup of this same node, then resync its shares.
    Refused while `serve` runs: its lock is held for the whole restore."""
    with holding_home(node.home, "restore"):
        pid = serving_pid(node.home)
        if pid is not None:
            raise NodeError(f"`tagshare serve` is running on this node (pid {pid}): "
                            "stop it first")
        return _restore_unserved(node, source)


def _restore_unserved(node: Node, source: Path) -> dict[str, int]:
    _check_backup(node, source)
    backup_conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        backup_conn.backup(node.conn)
    finally:
        backup_conn.close()
    node.conn.close()
    node.conn = db.connect(node.home / DB_FILE)  # migrates an older backup
    with db.transaction(node.conn) as conn:
        summary = after_rollback(node, conn)
        node.audit("restore", file=str(source), **summary)
    return summary


def _check_backup(node: Node, source: Path) -> None:
    if not source.is_file():
        raise InvalidInput(f"no backup file {source}")
    try:
        check = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            owner = check.execute("SELECT value FROM meta WHERE key = 'node_id'").fetchone()
        finally:
            check.close()
    except sqlite3.DatabaseError:
        raise InvalidInput(f"{source} is not a tagshare backup") from None
    if owner is None or owner[0] != node.node_id:
        raise InvalidInput(f"{source} is a backup of another node: restore it into that "
                           "node's home")


def after_rollback(node: Node, conn: sqlite3.Connection) -> dict[str, int]:
    """Make peers converge on the restored state instead of silently diverging."""
    floor = int(time.time() * 1000) * 1000  # above anything issued before the restore
    outbox.bump_counter(conn, floor)
    now = normalize.now_iso()
    outgoing = store.active_outgoing(conn)
    for share in outgoing:
        outbox.begin_full_resend(conn, share["id"], b64u_encode(random_bytes(16)), now,
                                seq_floor=floor)
    incoming = store.active_incoming(conn)
    for share in incoming:
        outbox.queue_message(conn, peer=share["peer"], type=ShareResync.TYPE,
                            body=f'{{"share": "{share["id"]}"}}', now=now)
    outbox.release_inflight(conn)
    meta.set_meta(conn, "restored_at", now)
    return {"resent_shares": len(outgoing), "resync_requests": len(incoming)}
