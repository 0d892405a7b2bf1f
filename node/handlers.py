"""What the inbox does with each share message, by type.

Every handler runs inside the inbox's transaction, after the envelope was
verified and its sender found to be a peer. A handler first checks that the
share exists, runs in the direction the message implies, and belongs to the
sender: a subscriber can never write into its granter's data through a share.
"""

import json
import sqlite3

from tagshare.node import limits, normalize, reach, reshare, terms
from tagshare.node.clock import random_bytes
from tagshare.node.inbox import Handler
from tagshare.node.node import Node
from tagshare.node.outgoing import settle_batch
from tagshare.node.peers import pulls_only
from tagshare.node.received import apply_items, drop_stale_members, end_subscription
from tagshare.node.refusals import Forbidden
from tagshare.node.shares import activate_incoming
from tagshare.node.snapshot import apply_snapshot, check_snapshot_grant
from tagshare.node.storage import outbox
from tagshare.node.storage import peers as peer_store
from tagshare.node.storage import received as inbound
from tagshare.node.storage import reshare as reshare_store
from tagshare.node.storage import shares as store
from tagshare.protocol import (
    KeyRotate,
    Message,
    OutboxAck,
    PeerRemove,
    Ping,
    ShareAccept,
    ShareBatch,
    ShareDecline,
    ShareLeave,
    ShareOffer,
    ShareReach,
    ShareResync,
    ShareRevoke,
    ShareSynced,
    ShareTerms,
    ShareTermsAccept,
    b64u_encode,
    check_rotation,
)
from tagshare.protocol.reshare import paths_to_list

Detail = dict[str, object]


def _share_of(conn: sqlite3.Connection, share_id: str, peer: sqlite3.Row,
              direction: str) -> sqlite3.Row:
    row = store.get_share(conn, share_id)
    if row is None or row["peer"] != peer["node_id"] or row["direction"] != direction:
        raise Forbidden(f"share {share_id} is not a share of yours in that direction")
    return row


def on_offer(node: Node, peer: sqlite3.Row, message: Message) -> Detail:
    assert isinstance(message, ShareOffer)
    conn = node.conn
    existing = store.get_share(conn, message.share)
    if existing is not None:
        _share_of(conn, message.share, peer, "incoming")
        return {"share": message.share, "status": existing["status"]}
    limits.check_offer_room(conn, peer["node_id"])
    reshare.check_offer(node.node_id, peer["node_id"], message)
    store.insert_share(conn, {
        "id": message.share, "direction": "incoming", "peer": peer["node_id"],
        "tag": message.tag, "tag_id": None, "local_tag": None,
        "fields": json.dumps(list(message.fields)), "on_revoke": message.on_revoke,
        "note": message.note, "status": "offered", "epoch": message.epoch,
        "now": normalize.now_iso()})
    store.record_terms(conn, message.share, 1, json.dumps(list(message.fields)),
                       message.on_revoke, now=normalize.now_iso(), accepted=False)
    reshare_store.set_terms(conn, message.share, reshare=message.reshare,
                            grant=json.dumps(message.grant.to_dict()),
                            upstream=json.dumps(paths_to_list(message.upstream)))
    node.audit("share.offered", share=message.share, peer=peer["node_id"], tag=message.tag)
    if peer["auto_accept"]:
        row = store.get_share(conn, message.share)
        assert row is not None
        activate_incoming(node, conn, row, None)
    return {"share": message.share, "status": _status(conn, message.share)}


def on_accept(node: Node, peer: sqlite3.Row, message: Message) -> Detail:
    assert isinstance(message, ShareAccept)
    conn = node.conn
    row = _share_of(conn, message.share, peer, "outgoing")
    if row["status"] == "offered":
        store.update_share(conn, row["id"], normalize.now_iso(), status="active",
                           pull=int(message.pull or pulls_only(peer)))
        outbox.enqueue_tagged(conn, row["id"], row["tag_id"])
        store.mark_terms_accepted(conn, row["id"], 1, normalize.now_iso())
        node.audit("share.accepted", share=row["id"], peer=peer["node_id"])
        fresh = store.get_share(conn, row["id"])
        assert fresh is not None
        reach.notify(node, conn, fresh, "active")
    return {"share": row["id"], "status": _status(conn, row["id"])}


def on_reach(node: Node, peer: sqlite3.Row, message: Message) -> Detail:
    assert isinstance(message, ShareReach)
    outcome = reach.receive(node, node.conn, peer["node_id"], message.notice)
    return {"share": message.notice.path[-1].share, "status": outcome}


def on_terms(node: Node, peer: sqlite3.Row, message: Message) -> Detail:
    assert isinstance(message, ShareTerms)
    conn = node.conn
    row = _share_of(conn, message.share, peer, "incoming")
    if row["status"] in ("offered", "active"):
        terms.receive(node, conn, row, message)
        fresh = store.get_share(conn, row["id"])
        if (fresh is not None and peer["auto_accept"] and fresh["status"] == "active"
                and fresh["proposed"] is not None):
            terms.accept(node, conn, fresh)
    return {"share": row["id"], "status": _status(conn, row["id"])}


def on_terms_accept(node: Node, peer: sqlite3.Row, message: Message) -> Detail:
    assert isinstance(message, ShareTermsAccept)
    row = _share_of(node.conn, message.share, peer, "outgoing")
    switched = terms.switch(node, node.conn, row, message.version)
    return {"share": row["id"], "switched": switched}


def on_decline(node: Node, peer: sqlite3.Row, message: Message) -> Detail:
    assert isinstance(message, ShareDecline)
    row = _share_of(node.conn, message.share, peer, "outgoing")
    if row["status"] == "offered":
        store.set_share_status(node.conn, row["id"], "declined", normalize.now_iso())
        node.audit("share.declined", share=row["id"], peer=peer["node_id"])
    return {"share": row["id"], "status": _status(node.conn, row["id"])}


def on_leave(node: Node, peer: sqlite3.Row, message: Message) -> Detail:
    assert isinstance(message, ShareLeave)
    row = _share_of(node.conn, message.share, peer, "outgoing")
    if row["status"] in ("offered", "active"):
        store.set_share_status(node.conn, row["id"], "left", normalize.now_iso())
        outbox.drop_pending(node.conn, row["id"])
        node.audit("share.left", share=row["id"], peer=peer["node_id"])
        reach.notify(node, node.conn, row, "left")
    return {"share": row["id"], "status": _status(node.conn, row["id"])}


def on_resync(node: Node, peer: sqlite3.Row, message: Message) -> Detail:
    assert isinstance(message, ShareResync)
    row = _share_of(node.conn, message.share, peer, "outgoing")
    queued = 0
    if row["status"] == "active" and limits.resync_due(row):
        now = normalize.now_iso()
        queued = outbox.begin_full_resend(node.conn, row["id"], b64u_encode(random_bytes(16)),
                                         now)
        store.update_share(node.conn, row["id"], now, resync_at=now)
        node.audit("share.resync", share=row["id"], peer=peer["node_id"], people=queued)
    return {"share": row["id"], "status": row["status"], "queued": queued}


def on_revoke(node: Node, peer: sqlite3.Row, message: Message) -> Detail:
    assert isinstance(message, ShareRevoke)
    row = _share_of(node.conn, message.share, peer, "incoming")
    purged = 0
    if row["status"] in ("offered", "active"):
        purged = end_subscription(node, node.conn, row, "revoked")
        node.audit("share.revoked", share=row["id"], peer=peer["node_id"], purged=purged)
    return {"share": row["id"], "status": "revoked", "purged": purged}


def on_batch(node: Node, peer: sqlite3.Row, message: Message) -> Detail:
    assert isinstance(message, ShareBatch)
    conn = node.conn
    row = _share_of(conn, message.share, peer, "incoming")
    if row["status"] != "active":
        return {"share": row["id"], "seq": message.seq, "applied": 0, "status": row["status"]}
    fields = terms.batch_fields(conn, row, message.terms)
    if message.snapshot is not None:
        check_snapshot_grant(message.snapshot, fields)  # before anything is written
    applied = apply_items(node, conn, row, message.items, fields)
    if message.snapshot is not None:
        applied += apply_snapshot(node, conn, row, message.snapshot, fields)
    epoch = message.epoch if message.seq > row["seq"] else row["epoch"]  # newest batch wins
    if message.epoch == epoch:
        inbound.mark_epoch(conn, row["id"], message.uuids(), epoch)
    store.update_share(conn, row["id"], normalize.now_iso(), epoch=epoch,
                       seq=max(row["seq"], message.seq), last_delivery_at=normalize.now_iso())
    return {"share": row["id"], "seq": message.seq, "applied": applied, "status": "active"}


def on_synced(node: Node, peer: sqlite3.Row, message: Message) -> Detail:
    assert isinstance(message, ShareSynced)
    row = _share_of(node.conn, message.share, peer, "incoming")
    dropped = 0
    if row["status"] == "active":
        dropped = drop_stale_members(node, node.conn, row, message.epoch)
    return {"share": row["id"], "dropped": dropped}


def on_key_rotate(node: Node, peer: sqlite3.Row, message: Message) -> Detail:
    """A peer rotated its keys: take the new ones, so that from now on only they count."""
    assert isinstance(message, KeyRotate)
    known = peer["signing_key"] or peer["node_id"]
    new_key = check_rotation(message, sender=peer["node_id"], known_key=known)
    document = message.document
    peer_store.rotate_peer(node.conn, peer["node_id"], signing_key=new_key,
                           box_key=document.box_key, document=json.dumps(document.to_dict()),
                           url=document.url, announced=document.name)
    node.peer_signing_keys[peer["node_id"]] = new_key
    node.audit("peer.key_rotated", peer=peer["node_id"], signing_key=new_key)
    return {"signing_key": new_key}


def on_outbox_ack(node: Node, peer: sqlite3.Row, message: Message) -> Detail:
    assert isinstance(message, OutboxAck)
    conn = node.conn
    for ref in message.refs:
        outbox.drop_message(conn, ref, peer=peer["node_id"])
    for share_id, seq in message.batches:
        _share_of(conn, share_id, peer, "outgoing")
        settle_batch(conn, share_id, seq, normalize.now_iso())
    outbox.record_success(conn, peer["node_id"], normalize.now_iso())  # a pull is a delivery
    return {"refs": len(message.refs), "batches": len(message.batches)}


def on_peer_remove(node: Node, peer: sqlite3.Row, message: Message) -> Detail:
    """The peer removed this node: it is shown as removed here too, and its messages are
    refused from now on (pairing again needs a new invite)."""
    assert isinstance(message, PeerRemove)
    peer_store.mark_peer_removed(node.conn, peer["node_id"], normalize.now_iso())
    node.audit("peer.removed_by_peer", peer=peer["node_id"])
    return {"status": "removed"}


def _ping(_node: Node, _peer: sqlite3.Row, _message: Message) -> Detail:
    return {"pong": True}


def _status(conn: sqlite3.Connection, share_id: str) -> str:
    row = store.get_share(conn, share_id)
    return str(row["status"]) if row is not None else "unknown"


HANDLERS: dict[str, Handler] = {
    Ping.TYPE: _ping,
    ShareOffer.TYPE: on_offer,
    ShareAccept.TYPE: on_accept,
    ShareDecline.TYPE: on_decline,
    ShareLeave.TYPE: on_leave,
    ShareResync.TYPE: on_resync,
    ShareRevoke.TYPE: on_revoke,
    ShareTerms.TYPE: on_terms,
    ShareSynced.TYPE: on_synced,
    ShareTermsAccept.TYPE: on_terms_accept,
    ShareBatch.TYPE: on_batch,
    ShareReach.TYPE: on_reach,
    OutboxAck.TYPE: on_outbox_ack,
    KeyRotate.TYPE: on_key_rotate,
    PeerRemove.TYPE: on_peer_remove,
}
