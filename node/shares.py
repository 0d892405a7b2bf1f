"""Shares as operators handle them: grant, accept, decline, revoke, leave, resync, list.

Each operation changes the share in one transaction together with the
control message that tells the other node; the sync worker delivers it
(pushing, or handing it out when the peer pulls), however long that takes.
"""

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from tagshare.node import normalize, reach, reshare, terms
from tagshare.node.clock import random_bytes
from tagshare.node.errors import Ambiguous, InvalidInput, NotFound
from tagshare.node.ids import uuid7
from tagshare.node.node import Node
from tagshare.node.peers import resolve_peer, slug
from tagshare.node.received import end_subscription
from tagshare.node.storage import db, outbox
from tagshare.node.storage import peers as peer_store
from tagshare.node.storage import people as people_store
from tagshare.node.storage import reshare as reshare_store
from tagshare.node.storage import shares as store
from tagshare.protocol import (
    Message,
    ShareAccept,
    ShareDecline,
    ShareLeave,
    ShareOffer,
    ShareResync,
    ShareRevoke,
    b64u_encode,
)
from tagshare.protocol.shares import FIELD_GROUPS, canonical_fields


def parse_fields(text: str) -> tuple[str, ...]:
    """'name,email' or 'all' -> canonical field groups."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise InvalidInput("--fields needs at least one of: " + ", ".join(FIELD_GROUPS) + ", all")
    if "all" in names:
        return FIELD_GROUPS
    unknown = [n for n in names if n not in FIELD_GROUPS]
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}: use "
                           + ", ".join(FIELD_GROUPS) + " or all")
    return canonical_fields(names)


def queue(conn: sqlite3.Connection, peer: str, message: Message) -> None:
    outbox.queue_message(conn, peer=peer, type=message.TYPE,
                        body=json.dumps(message.to_dict()), now=normalize.now_iso())


def grant_share(node: Node, *, tag: str, peer: str, fields: str, on_revoke: str,
                note: str | None, reshare_terms: str = "none") -> dict[str, Any]:
    tag_name = normalize.normalize_tag(tag)
    groups = parse_fields(fields)
    if on_revoke not in ("purge", "keep"):
        raise InvalidInput("--on-revoke must be purge or keep")
    if note is not None and len(note) > 2000:
        raise InvalidInput("--note is longer than 2000 characters")
    with db.transaction(node.conn) as conn:
        peer_id = resolve_peer(conn, peer)
        share_id = uuid7()
        epoch = b64u_encode(random_bytes(16))
        tag_id = people_store.tag_id(conn, tag_name, create=True)
        assert tag_id is not None
        plan = reshare.plan_grant(conn, tag=tag_name, tag_id=tag_id, peer=peer_id,
                                  fields=groups, on_revoke=on_revoke, reshare=reshare_terms)
        on_revoke = plan.on_revoke
        store.insert_share(conn, {
            "id": share_id, "direction": "outgoing", "peer": peer_id, "tag": tag_name,
            "tag_id": tag_id, "local_tag": None,
            "fields": json.dumps(list(groups)), "on_revoke": on_revoke, "note": note or "",
            "status": "offered", "epoch": epoch, "now": normalize.now_iso()})
        store.record_terms(conn, share_id, 1, json.dumps(list(groups)), on_revoke,
                           now=normalize.now_iso(), accepted=False)  # until the peer accepts
        grant = reshare.sign(node, peer=peer_id, share=share_id, tag=tag_name, fields=groups,
                             on_revoke=on_revoke, reshare=reshare_terms)
        reshare_store.set_terms(conn, share_id, reshare=reshare_terms,
                                grant=json.dumps(grant.to_dict()),
                                upstream=reshare.upstream_json(plan))
        queue(conn, peer_id, ShareOffer(share=share_id, tag=tag_name, fields=groups,
                                        on_revoke=on_revoke, note=note or "", epoch=epoch,
                                        reshare=reshare_terms, grant=grant,
                                        upstream=plan.upstream))
        node.audit("share.grant", share=share_id, tag=tag_name, peer=peer_id,
                   fields=list(groups), on_revoke=on_revoke, reshare=reshare_terms,
                   reshares=len(plan.upstream))
        row = store.get_share(conn, share_id)
        carriers = people_store.carriers(conn, tag_id)
        assert row is not None
        reach.notify(node, conn, row, "offered")
    assert row is not None
    return {**share_dict(conn, row), "carriers": carriers}


def resolve_share(conn: sqlite3.Connection, ref: str) -> sqlite3.Row:
    text = ref.strip().lower()
    if len(text) < 4:
        raise InvalidInput("give at least 4 characters of the share id")
    rows = store.find_shares(conn, text)
    if not rows:
        raise NotFound(f"no share {ref!r}: see `tagshare share list`")
    if len(rows) > 1:
        raise Ambiguous(f"{ref!r} matches {len(rows)} shares: give more of the id")
    row: sqlite3.Row = rows[0]
    return row


def _require(row: sqlite3.Row, direction: str, statuses: tuple[str, ...], action: str) -> None:
    if row["direction"] != direction:
        side = "granted by another node" if direction == "outgoing" else "granted by this node"
        raise InvalidInput(f"share {row['id']} is {side}: you cannot {action} it from here")
    if row["status"] not in statuses:
        raise InvalidInput(f"share {row['id']} is {row['status']}: cannot {action} it")


def activate_incoming(node: Node, conn: sqlite3.Connection, row: sqlite3.Row,
                      as_tag: str | None) -> None:
    """Accept an offered subscription: choose its local tag and tell the granter."""
    local_tag = _explicit_tag(conn, as_tag) if as_tag is not None else _default_tag(conn, row)
    people_store.tag_id(conn, local_tag, create=True)
    now = normalize.now_iso()
    store.update_share(conn, row["id"], now, status="active", local_tag=local_tag)
    store.mark_terms_accepted(conn, row["id"], 1, now)
    queue(conn, row["peer"], ShareAccept(share=row["id"], pull=not node.config.reachable))
    node.audit("share.accept", share=row["id"], peer=row["peer"], local_tag=local_tag)


def _default_tag(conn: sqlite3.Connection, row: sqlite3.Row) -> str:
    """PEERSLUG:TAG, or with -2, -3, ... when a tag of that name exists already: a share
    never files its people under a tag that holds others (whatever the peer is called)."""
    peer = peer_store.get_peer(conn, row["peer"])
    base = f"{slug((peer['alias'] or peer['name']) if peer else 'peer')}:{row['tag']}"
    number = 1
    while True:
        suffix = f"-{number}" if number > 1 else ""
        candidate = normalize.normalize_tag(base[:normalize.MAX_TAG - len(suffix)] + suffix)
        if not store.tag_exists(conn, candidate):
            return candidate
        number += 1


def _explicit_tag(conn: sqlite3.Connection, as_tag: str) -> str:
    """--as-tag names a new tag, or one no share writes and nobody carries yet: a peer's
    withdrawals and erasures must never untag people it did not send."""
    name = normalize.normalize_tag(as_tag)
    reason = store.local_tag_claim(conn, name)
    if reason is not None:
        raise InvalidInput(f"--as-tag {name!r} cannot be used: {reason}; "
                           "choose a new tag name")
    return name


def accept_share(node: Node, ref: str, as_tag: str | None) -> dict[str, Any]:
    """Accept an offered share, or the new terms proposed for a running one."""
    with db.transaction(node.conn) as conn:
        row = resolve_share(conn, ref)
        _require(row, "incoming", ("offered", "active"), "accept")
        if row["status"] == "offered":
            activate_incoming(node, conn, row, as_tag)
        elif row["proposed"] is None:
            raise InvalidInput(f"share {row['id']} is already active, with no new terms to accept")
        fresh = store.get_share(conn, row["id"])
        assert fresh is not None
        if fresh["proposed"] is not None:
            terms.accept(node, conn, fresh)
        return _fresh(conn, row["id"])


def edit_share(node: Node, ref: str, *, fields: str | None,
               on_revoke: str | None) -> dict[str, Any]:
    """Granter: propose new terms; the old ones keep flowing until the subscriber accepts."""
    if fields is None and on_revoke is None:
        raise InvalidInput("nothing to change: give --fields and/or --on-revoke")
    if on_revoke is not None and on_revoke not in ("purge", "keep"):
        raise InvalidInput("--on-revoke must be purge or keep")
    with db.transaction(node.conn) as conn:
        row = resolve_share(conn, ref)
        _require(row, "outgoing", ("offered", "active"), "edit")
        groups = parse_fields(fields) if fields is not None else tuple(json.loads(row["fields"]))
        terms.propose(node, conn, row, groups, on_revoke or row["on_revoke"])
        return _fresh(conn, row["id"])


def decline_share(node: Node, ref: str) -> dict[str, Any]:
    with db.transaction(node.conn) as conn:
        row = resolve_share(conn, ref)
        _require(row, "incoming", ("offered",), "decline")
        store.set_share_status(conn, row["id"], "declined", normalize.now_iso())
        queue(conn, row["peer"], ShareDecline(share=row["id"]))
        node.audit("share.decline", share=row["id"], peer=row["peer"])
        return _fresh(conn, row["id"])


def revoke_share(node: Node, ref: str) -> dict[str, Any]:
    with db.transaction(node.conn) as conn:
        row = resolve_share(conn, ref)
        _require(row, "outgoing", ("offered", "active"), "revoke")
        store.set_share_status(conn, row["id"], "revoked", normalize.now_iso())
        outbox.drop_pending(conn, row["id"])
        queue(conn, row["peer"], ShareRevoke(share=row["id"]))
        node.audit("share.revoke", share=row["id"], peer=row["peer"])
        reach.notify(node, conn, row, "revoked")
        return _fresh(conn, row["id"])


def leave_share(node: Node, ref: str) -> dict[str, Any]:
    with db.transaction(node.conn) as conn:
        row = resolve_share(conn, ref)
        _require(row, "incoming", ("offered", "active"), "leave")
        end_subscription(node, conn, row, "left")
        queue(conn, row["peer"], ShareLeave(share=row["id"]))
        node.audit("share.leave", share=row["id"], peer=row["peer"])
        return _fresh(conn, row["id"])


def resync_share(node: Node, ref: str) -> dict[str, Any]:
    with db.transaction(node.conn) as conn:
        row = resolve_share(conn, ref)
        _require(row, "incoming", ("active",), "resync")
        queue(conn, row["peer"], ShareResync(share=row["id"]))
        node.audit("share.resync", share=row["id"], peer=row["peer"])
        return _fresh(conn, row["id"])


def _fresh(conn: sqlite3.Connection, share_id: str) -> dict[str, Any]:
    row = store.get_share(conn, share_id)
    assert row is not None
    return share_dict(conn, row)


def share_dict(conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
    peer = peer_store.get_peer(conn, row["peer"])
    delivery = outbox.delivery_state(conn, row["peer"])
    outgoing = row["direction"] == "outgoing"
    return {
        "id": row["id"],
        "direction": row["direction"],
        "peer": row["peer"],
        "peer_name": (peer["alias"] or peer["name"]) if peer else None,
        "tag": row["tag"],
        "local_tag": row["local_tag"] if not outgoing else row["tag"],
        "fields": json.loads(row["fields"]),
        "on_revoke": row["on_revoke"],
        "reshare": row["reshare"],
        "origin": _origin_of(row),
        "note": row["note"],
        "status": row["status"],
        "terms_version": row["terms_version"],
        "pending_terms": json.loads(row["proposed"]) if row["proposed"] else None,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "sync": {
            "seq": row["seq"],
            "epoch": row["epoch"],
            "pending": outbox.pending_count(conn, row["id"]) if outgoing else None,
            "pull": bool(row["pull"]) if outgoing else None,
            "last_delivery_at": row["last_delivery_at"],
            "last_error": row["last_error"] or (delivery["last_error"] if delivery else None),
            "next_retry": _next_retry(delivery),
            "parked": bool(delivery["parked"]) if delivery else False,
        },
    }


def _origin_of(row: sqlite3.Row) -> str | None:
    """The node whose people an incoming share forwards, when it re-shares another's."""
    if row["direction"] != "incoming":
        return None
    origins = sorted({path[0].granter for path in reshare.received_paths(row)[1:]})
    return ",".join(origins) or None


def _next_retry(delivery: sqlite3.Row | None) -> str | None:
    if delivery is None or not delivery["next_attempt"]:
        return None
    return normalize.iso(datetime.fromtimestamp(delivery["next_attempt"], UTC))


ENDED = ("revoked", "left", "declined")


def sync_state(share: dict[str, Any]) -> str:
    """One word or two on where a share stands: ended (its status), offered, terms offered,
    failing, N owed, or in sync."""
    sync = share["sync"]
    if share["status"] in ENDED or share["status"] == "offered":
        return str(share["status"])
    if share["pending_terms"]:
        return f"terms v{share['pending_terms']['version']} offered"
    if sync["last_error"]:
        return "failing"
    if sync["pending"]:
        return f"{sync['pending']} owed"
    return "in sync"


def sync_summary(shares: list[dict[str, Any]]) -> dict[str, int]:
    """Counts for the one line that leads `status`: shares that have not ended, how many of
    them are in sync, and why the others are not."""
    summary = {"shares": 0, "in_sync": 0, "offered": 0, "terms_offered": 0, "failing": 0,
               "owing": 0, "ended": 0}
    for share in shares:
        state = sync_state(share)
        if share["status"] in ENDED:
            summary["ended"] += 1
            continue
        summary["shares"] += 1
        key = ("in_sync" if state == "in sync" else "owing" if state.endswith(" owed")
               else "terms_offered" if state.startswith("terms ") else state)
        summary[key] += 1
    return summary


def list_shares(node: Node, direction: str | None = None) -> list[dict[str, Any]]:
    return [share_dict(node.conn, row) for row in store.list_shares(node.conn, direction)]


def show_share(node: Node, ref: str) -> dict[str, Any]:
    row = resolve_share(node.conn, ref)
    data = share_dict(node.conn, row)
    data["terms"] = terms.history(node.conn, row["id"])
    return data
