"""Who holds the origin's people: signed notices from each re-sharing node (9.8).

A node that grants someone else's people onward signs a notice (the path from
the origin's grant to its own grant, how many of the origin's people the share
carries, its status) and sends it to the node it received them from, which
checks it and passes it up, until it reaches the origin. The origin keeps the
newest notice per re-share; `tagshare share reach TAG` lists them beside its
own subscribers.
"""

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from tagshare.node import clock as clocks
from tagshare.node import normalize
from tagshare.node.errors import NotFound
from tagshare.node.node import Node
from tagshare.node.refusals import Forbidden
from tagshare.node.storage import db, outbox
from tagshare.node.storage import peers as peer_store
from tagshare.node.storage import reshare as store
from tagshare.node.storage import shares as shares_store
from tagshare.protocol import ShareReach
from tagshare.protocol.reshare import Grant, Notice, make_notice, paths_from


def notify(node: Node, conn: sqlite3.Connection, share: sqlite3.Row, status: str, *,
           changed_only: bool = False) -> int:
    """An outgoing share that re-shares others' people changed state: tell each origin
    (with `changed_only`, only the origins whose count differs from what this process last
    told them). Returns how many notices were queued."""
    if share["direction"] != "outgoing" or share["upstream"] == "[]" or not share["grant_signed"]:
        return 0
    grant = Grant.from_dict(json.loads(share["grant_signed"]))
    state = node.key_state
    queued = 0
    for path in paths_from(json.loads(share["upstream"])):
        people = store.people_of_origin(conn, share["tag_id"], path[0].granter)
        told = (share["id"], path[0].share)
        if changed_only and node.reach_told.get(told) == people:
            continue
        notice = make_notice(state.keys, state.chain, path=(*path, grant), people=people,
                             status=status, at=clocks.system_clock())
        _send(conn, path[-1].granter, notice)
        node.reach_told[told] = people
        queued += 1
    return queued


def refresh(node: Node) -> int:
    """Counts change after the grant (the origin adds people, the slice's tag is edited):
    tell each origin the new count of every re-share whose count changed since this
    process last told it. A serving node does this once per quiet spell (node/server.py),
    so the origin's `share reach` is behind by seconds, not since the last offer or end.
    Returns how many notices were queued."""
    if not store.active_reshares(node.conn):  # most nodes: no write transaction at all
        return 0
    with db.transaction(node.conn) as conn:
        return sum(notify(node, conn, share, "active", changed_only=True)
                   for share in store.active_reshares(conn))


def _send(conn: sqlite3.Connection, peer: str, notice: Notice) -> None:
    message = ShareReach(notice=notice)
    outbox.queue_message(conn, peer=peer, type=message.TYPE,
                         body=json.dumps(message.to_dict()), now=normalize.now_iso())


def receive(node: Node, conn: sqlite3.Connection, sender: str, notice: Notice) -> str:
    """Check a notice from the node this one granted to; keep it (we are the origin) or
    pass it up. Returns "kept" or "passed"; Forbidden/NotPermitted change nothing."""
    reach = notice.verify()
    path = notice.path
    mine = [i for i, grant in enumerate(path[:-1]) if grant.granter == node.node_id]
    if not mine:
        raise Forbidden("a notice about people that did not come from this node")
    at = mine[0]
    row = shares_store.get_share(conn, path[at].share)
    if (row is None or row["direction"] != "outgoing" or row["peer"] != path[at].subscriber
            or path[at].subscriber != sender):
        raise Forbidden("a notice must come from the node this node's share went to")
    if at > 0:
        _send(conn, path[at - 1].granter, notice)
        return "passed"
    holder = path[-1]
    store.keep_notice(conn, {
        "origin_share": path[0].share, "holder": holder.subscriber,
        "via": json.dumps(list(reach.via)), "share": holder.share, "people": notice.people,
        "fields": json.dumps(list(reach.fields)), "reshare": reach.reshare,
        "status": notice.status, "notice": json.dumps(notice.to_dict()), "at": notice.at})
    return "kept"


def list_reach(node: Node, tag: str) -> list[dict[str, Any]]:
    """Every node that holds the people this node shares under `tag`: its subscribers,
    and whoever they re-shared them to, with counts and fields."""
    conn = node.conn
    name = normalize.normalize_tag(tag)
    granted = [row for row in shares_store.list_shares(conn, "outgoing") if row["tag"] == name]
    if not granted:
        raise NotFound(f"no share of tag {name!r}: see `tagshare share list --outgoing`")
    rows: list[dict[str, Any]] = []
    for share in granted:
        rows.append({"holder": share["peer"], "holder_name": _name(conn, share["peer"]),
                     "via": [], "share": share["id"],
                     "people": store.people_of_origin(conn, share["tag_id"], None),
                     "fields": json.loads(share["fields"]), "reshare": share["reshare"],
                     "status": share["status"], "at": share["updated_at"]})
        for notice in store.notices_of(conn, share["id"]):
            rows.append({"holder": notice["holder"], "holder_name": _name(conn, notice["holder"]),
                         "via": json.loads(notice["via"]), "share": notice["share"],
                         "people": notice["people"], "fields": json.loads(notice["fields"]),
                         "reshare": notice["reshare"], "status": notice["status"],
                         "at": normalize.iso(datetime.fromtimestamp(notice["at"], UTC))})
    return rows


def _name(conn: sqlite3.Connection, node_id: str) -> str | None:
    peer = peer_store.get_peer(conn, node_id)
    return (peer["alias"] or peer["name"]) if peer else None
