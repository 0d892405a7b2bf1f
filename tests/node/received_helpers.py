"""Receiving people as a subscriber does: an incoming share row, then the real apply path."""

from __future__ import annotations

import json
from pathlib import Path

from nacl.signing import SigningKey

from tagshare.node.ids import uuid7
from tagshare.node.node import open_node
from tagshare.node.normalize import now_iso
from tagshare.node.received import apply_items
from tagshare.node.storage import db
from tagshare.node.storage import peers as peers_store
from tagshare.node.storage import received as inbound
from tagshare.node.storage import shares as shares_store
from tagshare.protocol import Item
from tagshare.protocol.encoding import b64u_encode

FIELDS = ("name", "email", "phone", "contacts")


class Peer:
    """A paired organization that grants this node one share of people."""

    def __init__(self, home: Path, name: str, *, local_tag: str) -> None:
        self.home = home
        self.node_id = f"peer-{name.lower().replace(' ', '-')}"
        self.share = uuid7()
        self.version = 0
        node = open_node(home)
        try:
            with db.transaction(node.conn) as conn:
                peers_store.upsert_peer(conn, {
                    "node_id": self.node_id, "name": name, "alias": None,
                    "url": "http://127.0.0.1:1", "box_key": "-", "document": "{}",
                    "auto_accept": 0, "added_at": now_iso()})
                shares_store.insert_share(conn, {
                    "id": self.share, "direction": "incoming", "peer": self.node_id,
                    "tag": "volunteers", "tag_id": None, "local_tag": local_tag,
                    "fields": json.dumps(list(FIELDS)), "on_revoke": "keep", "note": "",
                    "status": "active", "epoch": "epoch", "now": now_iso()})
        finally:
            node.close()

    def with_real_node_id(self, seed: bytes) -> Peer:
        """Give the peer a real Ed25519 node id (from a 32-byte `seed`), for commands that
        print its fingerprint (`peer show`, `peer remove`)."""
        real_id = b64u_encode(bytes(SigningKey(seed).verify_key))
        node = open_node(self.home)
        try:
            with db.transaction(node.conn) as conn:
                conn.execute("UPDATE peers SET node_id = ? WHERE node_id = ?",
                             (real_id, self.node_id))
                conn.execute("UPDATE shares SET peer = ? WHERE peer = ?",
                             (real_id, self.node_id))
        finally:
            node.close()
        self.node_id = real_id
        return self

    def send(self, uuid: str, *, contacts: list[dict[str, object]] | None = None,
             **fields: str | None) -> str:
        """Upsert one person (a new version each time); returns the local row's uuid."""
        self.version += 1
        item = Item(op="upsert", uuid=uuid, version=self.version, fields=dict(fields),
                    contacts=tuple(contacts or ()))
        node = open_node(self.home)
        try:
            with db.transaction(node.conn) as conn:
                share = shares_store.get_share(conn, self.share)
                apply_items(node, conn, share, (item,))
                row = inbound.received_person(conn, self.node_id, uuid)
        finally:
            node.close()
        assert row is not None
        return str(row["uuid"])


def contact(at: str, method: str = "door", outcome: str | None = "not home",
            by: str | None = "Sam") -> dict[str, object]:
    return {"uuid": uuid7(), "method": method, "outcome": outcome, "note": None, "at": at,
            "by": by}
