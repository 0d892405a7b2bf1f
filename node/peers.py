"""Peers as the operator sees them: list, show, resolve by alias/name/id prefix, rename,
remove, trust."""

import difflib
import json
import re
import sqlite3
from collections.abc import Callable
from typing import Any

from tagshare.node.errors import Ambiguous, InvalidInput, NotFound
from tagshare.node.node import Node
from tagshare.node.normalize import now_iso
from tagshare.node.storage import db, outbox
from tagshare.node.storage import peers as store
from tagshare.protocol import fingerprint
from tagshare.protocol.snapshot import SNAPSHOT_CAPABILITY


def slug(name: str) -> str:
    """'Ohio Senate 12' -> 'ohio-senate-12' (the prefix of received tags)."""
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return text or "peer"


def peer_dict(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "node_id": row["node_id"],
        "name": row["name"],
        "alias": row["alias"],
        "announces": row["announced"] or row["name"],
        "slug": slug(row["alias"] or row["name"]),
        "url": row["url"],
        "fingerprint": fingerprint(row["node_id"]),
        "status": row["status"],
        "auto_accept": bool(row["auto_accept"]),
        "added_at": row["added_at"],
        "removed_at": row["removed_at"],
    }


def pulls_only(peer: sqlite3.Row) -> bool:
    """The peer's signed document says nobody can reach it: never push to it, it pulls."""
    document = json.loads(peer["document"])
    return isinstance(document, dict) and document.get("pull_only") is True


def takes_snapshots(peer: sqlite3.Row) -> bool:
    """The peer's signed document says it accepts snapshot chunks (protocol/snapshot.py)."""
    document = json.loads(peer["document"])
    capabilities = document.get("capabilities") if isinstance(document, dict) else None
    return isinstance(capabilities, list) and SNAPSHOT_CAPABILITY in capabilities


def resolve_peer(conn: sqlite3.Connection, ref: str, *, include_removed: bool = False) -> str:
    """PEER on the command line: alias, name, node id, or a unique prefix of the id.

    An exact match wins; then the same without regard to case. An unknown PEER names the
    closest aliases and names, so a typo is one look away from the right one."""
    text = ref.strip()
    folded = text.casefold()
    rows = store.list_peers(conn, include_removed=include_removed)
    predicates: tuple[Callable[[sqlite3.Row], bool], ...] = (
        lambda r: r["node_id"] == text,
        lambda r: r["alias"] == text,
        lambda r: r["name"] == text,
        lambda r: (r["alias"] or "").casefold() == folded,
        lambda r: r["name"].casefold() == folded,
        lambda r: slug(r["alias"] or r["name"]) == folded,
        lambda r: len(text) >= 4 and r["node_id"].startswith(text),
        lambda r: len(text) >= 4 and r["node_id"].casefold().startswith(folded),
    )
    for predicate in predicates:
        found = [r for r in rows if predicate(r)]
        if len(found) == 1:
            return str(found[0]["node_id"])
        if len(found) > 1:
            names = ", ".join(repr(known_as(r)) for r in found[:5])
            raise Ambiguous(f"{ref!r} matches {len(found)} peers ({names}): "
                            "give more of the node id")
    raise NotFound(f"no peer {ref!r}: {_closest(rows, folded)}see `tagshare peer list`")


def known_as(row: sqlite3.Row) -> str:
    """What the operator calls a peer: its alias, else its name."""
    return str(row["alias"] or row["name"])


def _closest(rows: list[sqlite3.Row], folded: str) -> str:
    """'did you mean 'rivera'? ' for the aliases and names nearest to what was typed."""
    spellings: dict[str, str] = {}
    for row in rows:
        for text in (row["alias"], row["name"]):
            if text:
                spellings.setdefault(text.casefold(), known_as(row))
    close = difflib.get_close_matches(folded, list(spellings), n=3, cutoff=0.6)
    names = list(dict.fromkeys(spellings[c] for c in close))
    if not names:
        return ""
    return "did you mean " + " or ".join(repr(n) for n in names) + "? "


def list_peers(node: Node, *, include_removed: bool = False) -> list[dict[str, Any]]:
    return [peer_dict(r) for r in store.list_peers(node.conn, include_removed=include_removed)]


def show_peer(node: Node, ref: str) -> dict[str, Any]:
    node_id = resolve_peer(node.conn, ref, include_removed=True)
    row = store.get_peer(node.conn, node_id)
    assert row is not None
    data = peer_dict(row)
    data["document"] = json.loads(row["document"])
    return data


def remove_peer(node: Node, ref: str) -> dict[str, Any]:
    with db.transaction(node.conn) as conn:
        node_id = resolve_peer(conn, ref)
        store.mark_peer_removed(conn, node_id, now_iso())
        node.audit("peer.remove", peer=node_id)
        row = store.get_peer(conn, node_id)
    assert row is not None
    return peer_dict(row)


def trust_peer(node: Node, ref: str, *, trusted: bool = True) -> dict[str, Any]:
    with db.transaction(node.conn) as conn:
        node_id = resolve_peer(conn, ref)
        store.set_auto_accept(conn, node_id, trusted)
        node.audit("peer.trust" if trusted else "peer.distrust", peer=node_id)
        row = store.get_peer(conn, node_id)
    assert row is not None
    return peer_dict(row)


def retry_peer(node: Node, ref: str) -> dict[str, Any]:
    """End PEER's delivery backoff: the sync worker of `serve` tries it at once."""
    with db.transaction(node.conn) as conn:
        node_id = resolve_peer(conn, ref)
        outbox.retry_now(conn, node_id)
        node.audit("peer.retry", peer=node_id)
        row = store.get_peer(conn, node_id)
    assert row is not None
    return peer_dict(row)


def rename_peer(node: Node, ref: str, alias: str) -> tuple[dict[str, Any], str]:
    """Give PEER the local alias the operator chose; returns the peer and its former name.

    Only this changes what the operator knows a peer by: a name the peer announces
    (pairing again, key rotation) is shown beside it, never applied.
    """
    with db.transaction(node.conn) as conn:
        node_id = resolve_peer(conn, ref)
        row = store.get_peer(conn, node_id)
        assert row is not None
        text = check_alias(conn, alias, node_id, option="ALIAS")
        assert text is not None
        store.set_alias(conn, node_id, text)
        node.audit("peer.rename", peer=node_id, alias=text, was=row["alias"] or row["name"])
        fresh = store.get_peer(conn, node_id)
    assert fresh is not None
    return peer_dict(fresh), str(row["alias"] or row["name"])


def check_alias(conn: sqlite3.Connection, alias: str | None, node_id: str,
                option: str = "--name") -> str | None:
    if alias is None:
        return None
    text = alias.strip()
    if not text or len(text) > 100:
        raise InvalidInput(f"{option} must be 1 to 100 characters")
    if store.alias_taken(conn, text, node_id):
        raise InvalidInput(f"another peer is already called {text!r}: choose another {option}")
    return text
