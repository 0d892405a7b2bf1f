"""Opening and creating a node: home folder, keys, config, database."""

import contextlib
import getpass
import hmac
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from tagshare.node import home as homes
from tagshare.node.errors import NodeError
from tagshare.node.item_cache import ItemCache
from tagshare.node.keystore import (
    MODERATE,
    KeyState,
    SealCost,
    generate_keys,
    load_key_state,
    load_keys,
    save_key_state,
    save_keys,
)
from tagshare.node.normalize import now_iso
from tagshare.node.storage import db, meta
from tagshare.protocol.keys import NodeKeys, fingerprint


@dataclass
class Node:
    """One organization's node, open for use."""

    home: Path
    config: homes.NodeConfig
    conn: sqlite3.Connection
    node_id: str
    passphrase: bytes | None = field(default=None, repr=False)
    _key_state: KeyState | None = field(default=None, repr=False)
    _tombstone_secret: bytes | None = field(default=None, repr=False)
    _peer_keys: dict[str, str] | None = field(default=None, repr=False)
    _keys_stamp: tuple[int, int] = field(default=(0, 0), repr=False)
    tls_sha256: str | None = None  # set by `serve --tls-cert`: the certificate it serves
    item_cache: ItemCache = field(default_factory=ItemCache, repr=False)
    # (share, origin's share) -> the count this process last told the origin (node/reach.py)
    reach_told: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)

    @property
    def key_state(self) -> KeyState:
        """The keys, loaded (and, if sealed, unsealed) the first time they are needed."""
        stamp = _stamp(self.home / homes.KEYS_FILE)
        if self._key_state is None or stamp != self._keys_stamp:  # `key rotate` elsewhere
            state = load_key_state(self.home, self.passphrase)
            if state.keys.node_id != self.node_id:
                raise NodeError(f"keys.json in {self.home} belongs to another node")
            self._key_state, self._keys_stamp = state, stamp
        return self._key_state

    @property
    def keys(self) -> NodeKeys:
        return self.key_state.keys

    def replace_key_state(self, state: KeyState) -> None:
        """Write new keys (sealed with the same passphrase, if any) and use them."""
        save_key_state(self.home, state, self.passphrase)
        self._key_state, self._keys_stamp = state, _stamp(self.home / homes.KEYS_FILE)

    @property
    def peer_signing_keys(self) -> dict[str, str]:
        """Current signing keys of peers that rotated theirs (read once, kept up to date by
        the rotation handler), so the inbox verifies signatures without a database read."""
        if self._peer_keys is None:
            from tagshare.node.storage.peers import rotated_signing_keys

            self._peer_keys = rotated_signing_keys(self.conn)
        return self._peer_keys

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.node_id)

    @property
    def region(self) -> str:
        return self.config.default_country

    def identity(self) -> dict[str, str]:
        return {
            "node_id": self.node_id,
            "fingerprint": self.fingerprint,
            "name": self.config.name,
            "url": self.config.url,
        }

    def tombstone_key(self, uuid: str, origin: str | None = None) -> str:
        """A keyed hash naming an erased person without holding anything about them."""
        if self._tombstone_secret is None:
            stored = meta.get_meta(self.conn, "tombstone_secret") or ""
            self._tombstone_secret = bytes.fromhex(stored)
        secret = self._tombstone_secret
        message = f"{origin or ''}/{uuid}".encode()
        return hmac.digest(secret, message, "sha256").hex()

    def audit(self, action: str, **detail: object) -> None:
        meta.record_audit(self.conn, at=now_iso(), actor=current_actor(), action=action,
                          detail=detail)

    def close(self) -> None:
        """Close the database, purging the search index first if an erasure still waits
        for it, and compacting it if bulk writes call for that (node/storage/search.py);
        if that fails, the flag stays for the next."""
        with contextlib.suppress(sqlite3.Error):
            db.purge_pending(self.conn)
            db.compact_pending(self.conn)
        self.conn.close()


def _stamp(path: Path) -> tuple[int, int]:
    try:
        info = path.stat()
    except OSError:
        return (0, 0)
    return (info.st_mtime_ns, info.st_ino)


def current_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def init_node(home: Path, *, name: str, url: str | None = None,
              passphrase: bytes | None = None, seal_cost: SealCost = MODERATE) -> Node:
    """Create a new node in `home`; refuses to touch an existing one. With `passphrase`,
    the keys are sealed at `seal_cost` (tests pass a cheaper one)."""
    config = homes.NodeConfig(
        name=homes.validate_name(name),
        url=homes.validate_url(url) if url else homes.DEFAULT_URL,
        reachable=url is not None,
    )
    homes.prepare_new_home(home)
    keys = generate_keys()
    conn = db.connect(home / homes.DB_FILE, create=True)
    with db.transaction(conn):
        meta.set_meta(conn, "tombstone_secret", os.urandom(32).hex())
        meta.set_meta(conn, "node_id", keys.node_id)
    save_keys(home, keys, passphrase, cost=seal_cost)
    config.save(home)
    node = Node(home=home, config=config, conn=conn, node_id=keys.node_id,
                passphrase=passphrase, _key_state=KeyState(keys))
    with db.transaction(conn):
        node.audit("init", name=config.name, node_id=keys.node_id)
    return node


def open_node(home: Path, passphrase: bytes | None = None) -> Node:
    """Open an existing node; NoNode if there is none, SchemaTooNew if it is from the future.

    The keys are read when first needed, so commands that only touch the database
    work on a passphrase-protected node without the passphrase.
    """
    homes.require_home(home)
    config = homes.NodeConfig.load(home)
    conn = db.connect(home / homes.DB_FILE)
    node_id = meta.get_meta(conn, "node_id")
    if node_id is None:  # a database from before node ids were recorded
        node_id = load_keys(home, passphrase).node_id
    return Node(home=home, config=config, conn=conn, node_id=node_id, passphrase=passphrase)
