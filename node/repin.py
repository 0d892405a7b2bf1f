"""A peer's new TLS certificate, learned from its signed node document.

When a peer re-runs `tagshare tls self-signed`, its certificate changes and
the pin in the document we hold no longer matches: every delivery fails with
PeerCertificateMismatch before a byte is sent. The sync worker then fetches
the peer's document afresh, under the first-contact rule (the certificate the
server shows must be the one the document signs), and takes the new pin only
if that document is signed by the peer's current key, keeps its encryption
key, and is newer than the one held. An impostor cannot sign such a
document; a replayed older one (with a stolen older certificate) is not newer.
"""

import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable

from tagshare.node.client import FederationClient
from tagshare.node.errors import NodeError
from tagshare.node.node import Node
from tagshare.node.storage import db
from tagshare.node.storage import peers as peer_store
from tagshare.protocol import (
    NodeDocument,
    ProtocolError,
    current_key,
    parse_document,
    verify_document,
)

log = logging.getLogger("tagshare.sync")
RunInDb = Callable[[Callable[[], None]], Awaitable[None]]


async def refresh_pin(node: Node, peer: sqlite3.Row, client: FederationClient, now: int,
                      run_in_db: RunInDb) -> bool:
    """Fetch the peer's document and store it if it carries a new, valid pin."""
    try:
        held = parse_document(str(peer["document"]).encode())
        fresh = await client.fetch_document(peer["url"])
        verify_document(fresh, now=now, expected_node_id=peer["node_id"])
        if not _is_new_pin(peer, held, fresh):
            return False
    except (NodeError, ProtocolError) as exc:
        log.info("could not learn a new TLS certificate for %s: %s",
                 peer["alias"] or peer["name"], exc)
        return False

    def store() -> None:
        with db.transaction(node.conn):
            peer_store.replace_document(node.conn, peer["node_id"], json.dumps(fresh.to_dict()))
            node.audit("peer.tls_pinned", peer=peer["node_id"], sha256=fresh.tls_sha256)

    await run_in_db(store)
    log.warning("%s has a new TLS certificate, signed in its node document: pinned %s",
                peer["alias"] or peer["name"], fresh.tls_sha256)
    return True


def _is_new_pin(peer: sqlite3.Row, held: NodeDocument, fresh: NodeDocument) -> bool:
    same_keys = (fresh.box_key == peer["box_key"] and
                 current_key(fresh.node_id, fresh.keys) == (peer["signing_key"] or
                                                           peer["node_id"]))
    return (same_keys and fresh.created > held.created
            and fresh.tls_sha256 is not None and fresh.tls_sha256 != held.tls_sha256)
