"""Re-sharing down a hierarchy (docs/protocol.md 9.8).

A node may grant onward what it received only where the origin allowed it
(`--reshare narrower|same`), with at most the fields that reached it. The
permission follows each person: a share of a local tag carries a received
person only if the path that brought them allows it, with that path's fields.
Every forwarded item names its chain (origin node and uuid, the nodes it passed
through); the receiver checks it against the signed paths of the offer.
"""

import json
import sqlite3
from dataclasses import dataclass

from tagshare.node import normalize, reach
from tagshare.node.errors import InvalidInput
from tagshare.node.node import Node
from tagshare.node.storage import outbox
from tagshare.node.storage import peers as peer_store
from tagshare.node.storage import reshare as store
from tagshare.node.storage import shares as shares_store
from tagshare.protocol import Item, MalformedMessage, ShareOffer, ShareRevoke
from tagshare.protocol.reshare import (
    RESHARE,
    Grant,
    NotPermitted,
    Provenance,
    Reach,
    check_path,
    make_grant,
    passed_on,
    paths_from,
    paths_to_list,
)
from tagshare.protocol.shares import CONTACT_KEYS, DONATION_KEYS, Relayed, columns_for

Path = tuple[Grant, ...]


def sign(node: Node, *, peer: str, share: str, tag: str, fields: tuple[str, ...],
         on_revoke: str, reshare: str) -> Grant:
    state = node.key_state
    return make_grant(state.keys, state.chain, subscriber=peer, share=share, tag=tag,
                      fields=fields, on_revoke=on_revoke, reshare=reshare)


def received_paths(share: sqlite3.Row) -> list[Path]:
    """The verified-at-offer paths that end at this node through an incoming share: its
    granter's own grant, and each upstream path followed by that grant."""
    if share["grant_signed"] is None:
        return []
    grant = Grant.from_dict(json.loads(share["grant_signed"]))
    upstream = paths_from(json.loads(share["upstream"]))
    return [(grant,), *[(*path, grant) for path in upstream]]


def passable(share: sqlite3.Row) -> list[tuple[Path, Reach]]:
    """The paths of a subscription that allow this node to pass their people on."""
    checked = [(path, check_path(path)) for path in received_paths(share)]
    return [(path, reach) for path, reach in checked if reach.reshare != "none"]


@dataclass(frozen=True)
class Plan:
    """What an outgoing grant carries: the paths it re-shares, and its on_revoke."""

    upstream: tuple[Path, ...]
    on_revoke: str


def plan_grant(conn: sqlite3.Connection, *, tag: str, tag_id: int, peer: str,
               fields: tuple[str, ...], on_revoke: str, reshare: str) -> Plan:
    """Refuse a re-share the origin did not allow; otherwise the paths to carry."""
    if reshare not in RESHARE:
        raise InvalidInput("--reshare must be none, narrower or same")
    subscriptions = store.subscriptions_filing(conn, tag)
    if not subscriptions:  # a tag of ours: each received person goes only if allowed
        paths = [path for sub in store.subscriptions_tagged(conn, tag_id) if sub["peer"] != peer
                 for path, _ in passable(sub)]
        return Plan(tuple(paths), on_revoke)
    if all(peer in _upward(sub) for sub in subscriptions):
        return Plan((), on_revoke)  # back up where it came from: references, not a re-share
    allowed = [(path, reach) for sub in subscriptions for path, reach in passable(sub)]
    if not allowed:
        raise InvalidInput(_refusal(conn, tag, subscriptions[0]))
    received = {group for sub in subscriptions for group in json.loads(sub["fields"])}
    may = {group for _, reach in allowed for group in reach.fields} & received
    extra = [group for group in fields if group not in may]
    if extra:
        raise InvalidInput(f"cannot grant {tag!r} onward with {', '.join(extra)}: its origin "
                           f"allows at most {', '.join(sorted(may)) or 'nothing'}")
    most = max((passed_on(reach.reshare) for _, reach in allowed), key=RESHARE.index)
    if RESHARE.index(reshare) > RESHARE.index(most):
        raise InvalidInput(f"cannot grant {tag!r} onward with --reshare {reshare}: its origin "
                           f"allows at most --reshare {most}")
    purge = any(reach.on_revoke == "purge" for _, reach in allowed)
    return Plan(tuple(path for path, _ in allowed), "purge" if purge else "keep")


def _upward(sub: sqlite3.Row) -> set[str]:
    """The nodes a subscription's people came from: its granter, their origin, and every
    node between."""
    return {sub["peer"], *(grant.granter for path in received_paths(sub) for grant in path)}


def _refusal(conn: sqlite3.Connection, tag: str, sub: sqlite3.Row) -> str:
    peer = peer_store.get_peer(conn, sub["peer"])
    name = (peer["alias"] or peer["name"]) if peer else sub["peer"]
    return (f"cannot grant {tag!r} onward: {name} shared it (share {sub['id']}, fields "
            f"{','.join(json.loads(sub['fields']))}) with --reshare none; ask {name} to "
            "grant it with --reshare narrower or same")


def upstream_json(plan: Plan) -> str:
    return json.dumps(paths_to_list(plan.upstream))


# -- the granter: which received people a batch may carry, and how --------------------


@dataclass(frozen=True)
class Forward:
    chain: Provenance
    columns: tuple[str, ...]


def routes(conn: sqlite3.Connection, node_id: str, share: sqlite3.Row,
           people: dict[str, sqlite3.Row]) -> dict[str, Forward | str]:
    """For each received person of an outgoing share: "ref" (sent back towards where it
    came from: references only), a Forward (allowed on by its origin), "frozen" (the
    subscription that allowed it ended and its origin said keep: nothing more is sent,
    what the receiver holds stays), or "gone"."""
    received = [uuid for uuid, row in people.items() if row["origin"] is not None]
    if not received:
        return {}
    mine = {_key(path): (path, check_path(path))
            for path in paths_from(json.loads(share["upstream"]))}
    senders = store.senders_of(conn, received)
    sources = store.sources_of(conn, received)
    granted = set(json.loads(share["fields"]))
    paths_of: dict[str, list[Path]] = {}  # per source share, parsed once per batch
    result: dict[str, Forward | str] = {}
    for uuid in received:
        row = people[uuid]
        if share["peer"] == row["origin"] or share["peer"] in senders.get(uuid, set()):
            result[uuid] = "ref"
            continue
        result[uuid] = "gone"
        for source in sources.get(uuid, []):  # active ones first
            if source["id"] not in paths_of:
                paths_of[source["id"]] = received_paths(source)
            for path in paths_of[source["id"]]:
                hit = mine.get(_key(path))
                if hit is None or hit[1].origin != row["origin"] or result[uuid] != "gone":
                    continue
                if source["status"] != "active":
                    result[uuid] = "frozen"
                    continue
                via = (*(grant.granter for grant in path[1:]), node_id)
                groups = tuple(g for g in hit[1].fields if g in granted)
                result[uuid] = Forward(Provenance(row["origin"], row["origin_uuid"], via),
                                       columns_for(groups))
    return result


def on_revoke_by_origin(share: sqlite3.Row) -> dict[str | None, str]:
    """An incoming share's on_revoke per origin of what it forwards (the origin's terms,
    purge if any grant on the path says purge); None: the granter's own people."""
    terms: dict[str | None, str] = {None: share["on_revoke"]}
    for path in received_paths(share)[1:]:
        reach = check_path(path)
        if terms.get(reach.origin) != "purge":
            terms[reach.origin] = reach.on_revoke
    return terms


def end_downstream(node: Node, conn: sqlite3.Connection, share: sqlite3.Row) -> None:
    """A subscription ended: every share that re-shares its tag onward ends too (the
    subscriber of each is told; what it keeps follows the origin's terms)."""
    if share["direction"] != "incoming" or share["local_tag"] is None:
        return
    now = normalize.now_iso()
    for row in store.reshares_of(conn, share["local_tag"]):
        shares_store.set_share_status(conn, row["id"], "revoked", now)
        outbox.drop_pending(conn, row["id"])
        revoke = ShareRevoke(share=row["id"])
        outbox.queue_message(conn, peer=row["peer"], type=revoke.TYPE,
                             body=json.dumps(revoke.to_dict()), now=now)
        node.audit("share.revoke", share=row["id"], peer=row["peer"],
                   because=f"share {share['id']} ended")
        reach.notify(node, conn, row, "revoked")


_RECORD_KEYS = {"contacts": sorted(CONTACT_KEYS), "donations": sorted(DONATION_KEYS)}


def relayed_records(conn: sqlite3.Connection, share: sqlite3.Row,
                    people: dict[str, sqlite3.Row],
                    refs: list[str]) -> dict[str, tuple[Relayed, ...]]:
    """For people sent back up the chain (`ref` items): the records that nodes further
    down recorded on them and sent here, relayed so they reach the origin. Records of
    the receiver, of the person's origin and of whoever sent us the person stay out."""
    granted = set(json.loads(share["fields"]))
    kinds = [kind for kind in ("contacts", "donations") if kind in granted]
    if not refs or not kinds:
        return {}
    senders = store.senders_of(conn, refs)
    found: dict[str, dict[str, dict[str, list[dict[str, object]]]]] = {}
    for kind in kinds:
        for row in store.received_records_of(conn, kind, refs):
            upward = {share["peer"], people[row["person"]]["origin"],
                      *senders.get(row["person"], set())}
            if row["origin"] in upward:
                continue
            authors = found.setdefault(row["person"], {})
            lists = authors.setdefault(row["origin"], {k: [] for k in kinds})
            lists[kind].append({key: row[key] for key in _RECORD_KEYS[kind]})
    return {person: tuple(
        Relayed(node=author, contacts=_records(lists, "contacts"),
                donations=_records(lists, "donations"))
        for author, lists in sorted(authors.items())) for person, authors in found.items()}


def _records(lists: dict[str, list[dict[str, object]]],
             kind: str) -> tuple[dict[str, object], ...] | None:
    return tuple(lists[kind]) if kind in lists else None


def apply_relayed(conn: sqlite3.Connection, node_id: str, sender: str,
                  items: list[Item], person_of: dict[str, str], kinds: set[str]) -> None:
    """Store records relayed up the chain, keyed by (author, uuid); the sender touches
    only what it relayed itself (node/storage/reshare.py)."""
    for item in items:
        if item.ref is None:
            continue
        if any(entry.node in (node_id, sender) for entry in item.relayed):
            raise MalformedMessage("relayed records must be another node's")
        person = person_of[item.uuid]
        for kind in sorted(kinds):
            lists = {entry.node: [dict(r) for r in getattr(entry, kind)]
                     for entry in item.relayed if getattr(entry, kind) is not None}
            store.drop_relayed_except(conn, kind, sender, person, sorted(lists))
            for author, records in lists.items():
                store.sync_relayed_records(conn, kind, author, sender, {person: records})


def _key(path: Path) -> tuple[str, ...]:
    return tuple(grant.share for grant in path)


# -- the subscriber: checking an offer and the chains of its items ---------------------


def check_offer(node_id: str, sender: str, offer: ShareOffer) -> None:
    """The offer's grant is the sender's, to us; every upstream path, continued by that
    grant, verifies and allows the sender to pass it on (NotPermitted otherwise)."""
    if offer.grant.granter != sender or offer.grant.subscriber != node_id:
        raise NotPermitted("the offer's signed grant is not from its sender to this node")
    offer.grant.verify()
    for path in offer.upstream:
        reach = check_path((*path, offer.grant))
        if node_id == reach.origin or node_id in reach.via:
            raise NotPermitted("a path comes back to this node")


def check_chains(share: sqlite3.Row, items: tuple[Item, ...],
                 granted: tuple[str, ...]) -> None:
    """Every forwarded item names a path of the share's offer and carries at most its
    fields; otherwise the whole batch is refused."""
    forwarded = [item for item in items if item.chain is not None]
    if not forwarded:
        return
    reaches = {}
    for path in received_paths(share)[1:]:
        reach = check_path(path)
        reaches[(reach.origin, reach.via)] = reach
    for item in forwarded:
        assert item.chain is not None
        found = reaches.get((item.chain.origin, item.chain.via))
        if found is None:
            raise NotPermitted(f"item {item.uuid} names a chain its share's offer does not "
                               "carry")
        columns = set(columns_for(tuple(g for g in found.fields if g in granted)))
        if set(item.fields or {}) - columns:
            raise MalformedMessage(f"item {item.uuid} carries fields its origin did not allow")
