"""What each dashboard page shows, read through the same node/ functions the CLI uses.

Each function runs on the database thread and returns plain dicts for a
template. Shares and peers get one word for their state (`in sync`,
`syncing`, `offered`, `failing`, ...) and the reason, the way Syncthing shows
a folder as Up to Date or Stopped with its error.
"""

import sqlite3
from datetime import UTC, datetime
from typing import Any

from tagshare.node import people as people_ops
from tagshare.node import shares as share_ops
from tagshare.node.node import Node
from tagshare.node.normalize import iso
from tagshare.node.peers import list_peers
from tagshare.node.storage import outbox
from tagshare.node.storage.people import PERSON_FIELDS

LIVE_STATUSES = ("offered", "active")
AUDIT_ROWS = 200
SEARCH_ROWS = 50


def _iso_from_unix(seconds: float) -> str | None:
    return iso(datetime.fromtimestamp(seconds, UTC)) if seconds else None


def peer_health(conn: sqlite3.Connection, peer: dict[str, Any], now: float) -> dict[str, Any]:
    """A peer's delivery state: last contact, failing since, next retry."""
    delivery = outbox.delivery_state(conn, peer["node_id"])
    failing = delivery is not None and delivery["last_error"] is not None
    next_attempt = float(delivery["next_attempt"]) if delivery is not None else 0.0
    if failing and delivery is not None and delivery["parked"]:
        state = "stopped"
    elif failing:
        state = "failing"
    elif delivery is not None and delivery["last_success_at"]:
        state = "ok"
    else:
        state = "idle"
    return {
        **peer,
        "label": peer["alias"] or peer["name"],
        "state": state,
        "error": delivery["last_error"] if delivery is not None else None,
        "last_contact": delivery["last_success_at"] if delivery is not None else None,
        "failing_since": delivery["failing_since"] if failing and delivery is not None
        else None,
        "next_retry": _iso_from_unix(next_attempt) if failing and next_attempt > now else None,
        "queued": len(outbox.queued_messages(conn, peer["node_id"])),
    }


def share_state(share: dict[str, Any], peer: dict[str, Any] | None) -> tuple[str, str]:
    """(state, reason) of a share as the operator should read it."""
    status, outgoing = share["status"], share["direction"] == "outgoing"
    name = share["peer_name"] or "the peer"
    if status == "offered":
        return ("offered", f"waiting for {name} to accept" if outgoing
                else "accept or decline it")
    if status != "active":
        return (status, "")
    if peer is not None and peer["state"] in ("failing", "stopped"):
        return (peer["state"], peer["error"] or "")
    if not outgoing and share["pending_terms"] is not None:
        return ("new terms", f"{name} proposes new terms: accept them or leave")
    if outgoing and share["sync"]["pending"]:
        owed = share["sync"]["pending"]
        return ("syncing", f"{owed} change{'s' if owed != 1 else ''} owed to {name}")
    if peer is not None and peer["queued"]:
        return ("syncing", f"telling {name}")
    return ("in sync", "")


def shares_with_state(node: Node, now: float) -> list[dict[str, Any]]:
    peers = {p["node_id"]: peer_health(node.conn, p, now) for p in list_peers(node)}
    rows = []
    for share in share_ops.list_shares(node):
        state, reason = share_state(share, peers.get(share["peer"]))
        rows.append({**share, "state": state, "reason": reason,
                     "live": share["status"] in LIVE_STATUSES})
    return rows


def sync_summary(shares: list[dict[str, Any]]) -> dict[str, Any]:
    """'All N shares in sync', or which are not and why."""
    active = [s for s in shares if s["status"] == "active"]
    behind = [s for s in active if s["state"] != "in sync"]
    offers = [s for s in shares if s["status"] == "offered" and s["direction"] == "incoming"]
    if not active:
        line = "No active shares yet."
    elif not behind:
        line = f"All {len(active)} share{'s' if len(active) != 1 else ''} in sync."
    else:
        line = f"{len(active) - len(behind)} of {len(active)} shares in sync."
    return {"line": line, "ok": not behind, "behind": behind, "offers": len(offers),
            "active": len(active)}


def overview(node: Node, now: float) -> dict[str, Any]:
    shares = shares_with_state(node, now)
    counts = people_ops.counts(node)
    counts["peers"] = len(list_peers(node))
    return {"identity": node.identity(), "counts": counts, "summary": sync_summary(shares)}


def peers_page(node: Node, now: float) -> dict[str, Any]:
    return {"peers": [peer_health(node.conn, p, now) for p in list_peers(node)]}


def shares_page(node: Node, now: float) -> dict[str, Any]:
    shares = shares_with_state(node, now)
    return {"outgoing": [s for s in shares if s["direction"] == "outgoing"],
            "incoming": [s for s in shares if s["direction"] == "incoming"],
            "summary": sync_summary(shares)}


def offers_page(node: Node, now: float) -> dict[str, Any]:
    incoming = [s for s in shares_with_state(node, now) if s["direction"] == "incoming"]
    return {"offers": [s for s in incoming if s["status"] == "offered"],
            "terms": [s for s in incoming
                      if s["status"] == "active" and s["pending_terms"] is not None]}


def people_page(node: Node, query: str) -> dict[str, Any]:
    found = people_ops.list_people(node, search=query, limit=SEARCH_ROWS) if query else []
    names = origin_names(node)
    return {"query": query, "people": [{**p, "from": names.get(p["origin"], p["origin"])}
                                       for p in found], "limit": SEARCH_ROWS}


def person_page(node: Node, uuid: str) -> dict[str, Any]:
    """A person with the provenance of each value: which node each copy came from."""
    person = people_ops.show_person(node, uuid)
    names = origin_names(node)
    sources = [{**source, "from": names.get(source["origin"], source["origin"])}
               for source in person["sources"]]
    fields = [{"field": field, "values": [source[field] for source in sources]}
              for field in PERSON_FIELDS if any(source[field] for source in sources)]
    for record in (*person["contacts"], *person["donations"]):
        record["from"] = names.get(record["origin"], record["origin"])
    return {"person": person, "sources": sources, "fields": fields,
            "from": names.get(person["origin"], person["origin"])}


def origin_names(node: Node) -> dict[str | None, str]:
    """Node ids as the operator knows them; None is this node."""
    names: dict[str | None, str] = {None: f"{node.config.name} (this node)"}
    for peer in list_peers(node, include_removed=True):
        names[peer["node_id"]] = peer["alias"] or peer["name"]
    return names


def audit_page(node: Node) -> dict[str, Any]:
    return {"entries": people_ops.audit_log(node, AUDIT_ROWS), "limit": AUDIT_ROWS}
