"""Rotating a node's keys.

`rotate_keys` makes a new signing key and a new encryption key, adds a link
to the key chain (signed by the old key and the new), and queues a
`key.rotate` for every peer (pushed, or handed out when a peer nobody can
reach pulls): it travels signed and encrypted with the OLD keys, which the
peer still knows, and carries the new document. Until every
peer has acknowledged it, the old keys are kept only to send it and to read
messages a peer sealed before it heard; then they are deleted.
"""

import json
import os
import sqlite3

from tagshare.node import normalize
from tagshare.node.clock import system_clock
from tagshare.node.errors import NodeError
from tagshare.node.identity import node_document
from tagshare.node.keystore import KeyState
from tagshare.node.node import Node
from tagshare.node.storage import db
from tagshare.node.storage import outbox as outbox_store
from tagshare.node.storage import peers as peer_store
from tagshare.protocol import KeyRotate, NodeKeys, make_link
from tagshare.protocol.keys import box_between


def rotate_keys(node: Node) -> dict[str, object]:
    forget_previous_keys(node)  # the last rotation may have been acked by a pull meanwhile
    old = node.key_state
    if old.previous is not None:
        waiting = outbox_store.count_queued(node.conn, KeyRotate.TYPE)
        raise NodeError(f"the last rotation has not reached every peer yet ({waiting} waiting): "
                        "let `serve` or `tagshare sync` deliver it, then rotate again")
    new = NodeKeys(signing_seed=os.urandom(32), box_secret=os.urandom(32),
                   identity=node.node_id)
    created = max(system_clock(), old.chain[-1].created + 1 if old.chain else 0)
    link = make_link(node_id=node.node_id, previous=old.keys, new=new, created=created)
    with db.transaction(node.conn) as conn:
        peers = peer_store.list_peers(conn)
        node.replace_key_state(KeyState(keys=new, chain=(*old.chain, link),
                                        previous=old.keys if peers else None))
        message = KeyRotate(document=node_document(node, system_clock()))
        for peer in peers:
            _queue(conn, peer["node_id"], message)
        node.audit("key.rotate", signing_key=new.signing_key_id, peers=len(peers))
    return {"node_id": node.node_id, "signing_key": new.signing_key_id,
            "peers_told": len(peers), "rotations": len(old.chain) + 1}


def _queue(conn: sqlite3.Connection, peer: str, message: KeyRotate) -> None:
    outbox_store.queue_message(conn, peer=peer, type=message.TYPE,
                               body=json.dumps(message.to_dict()), now=normalize.now_iso())


def forget_previous_keys(node: Node) -> bool:
    """Once no `key.rotate` waits in the outbox, delete the replaced keys."""
    state = node.key_state
    if state.previous is None or outbox_store.has_queued(node.conn, KeyRotate.TYPE):
        return False
    node.replace_key_state(KeyState(keys=state.keys, chain=state.chain))
    box_between.cache_clear()  # nor keep the old secret in the box cache
    return True
