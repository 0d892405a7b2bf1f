"""The subscriber's side: applying batches, and ending a subscription.

Received people are stored apart from the node's own (origin = the granter's
node id, origin_uuid = the granter's uuid) and linked to a local person with
the same email or phone. `received` remembers, per (share, origin uuid), the
highest version applied and whether the person is still in the share, so a
duplicate, late or reordered item changes nothing. An erased person leaves a
tombstone (a keyed hash), so nothing can bring them back.
"""

import json
import sqlite3
from dataclasses import dataclass, replace

from tagshare.node import clock as clocks
from tagshare.node import limits, matching, normalize, reshare
from tagshare.node.ids import uuid7
from tagshare.node.node import Node
from tagshare.node.storage import people as people_store
from tagshare.node.storage import received as inbound
from tagshare.node.storage import reshare as reshare_store
from tagshare.node.storage import shares as store
from tagshare.node.storage import staged
from tagshare.protocol import Item, MalformedMessage
from tagshare.protocol.shares import columns_for

CONTACT_COLUMNS = ("uuid", "method", "outcome", "note", "at", "by")
DONATION_COLUMNS = ("uuid", "amount_cents", "currency", "at")


def apply_items(node: Node, conn: sqlite3.Connection, share: sqlite3.Row,
                items: tuple[Item, ...], batch_fields: tuple[str, ...] | None = None) -> int:
    """Apply a batch's items inside the caller's transaction; returns how many took effect.

    `batch_fields` are the terms the batch was built under (default: the share's
    current terms); items may carry nothing beyond them, and only what the
    current terms also grant is written.
    """
    now_granted = tuple(json.loads(share["fields"]))
    granted = batch_fields if batch_fields is not None else now_granted
    columns = set(columns_for(granted))
    for item in items:
        _check_grant(item, columns, "contacts" in granted, "donations" in granted)
    reshare.check_chains(share, items, granted)
    writable = Grant(columns=columns & set(columns_for(now_granted)),
                     kinds={k for k in ("contacts", "donations")
                            if k in granted and k in now_granted})
    known = inbound.received_rows(conn, share["id"], [item.uuid for item in items])
    newest: dict[str, Item] = {}
    for item in items:
        current = known.get(item.uuid)
        if current is not None and current["version"] >= item.version:
            continue  # a duplicate or an older change
        if item.uuid not in newest or newest[item.uuid].version < item.version:
            newest[item.uuid] = item
    tag_id = people_store.tag_id(conn, share["local_tag"], create=True) or 0
    fresh = list(newest.values())
    _remember_unseen(conn, share, [i for i in fresh if i.op != "upsert"
                                   and _unseen(known.get(i.uuid))])
    fresh_seen = [i for i in fresh if i.op == "upsert" or not _unseen(known.get(i.uuid))]
    _upsert_all(node, conn, share, [i for i in fresh if i.op == "upsert"], tag_id, writable,
                known)
    for item in fresh_seen:
        if item.op == "withdraw":
            _withdraw(conn, share, share["peer"], item, tag_id, known.get(item.uuid))
        elif item.op == "erase":
            _erase(node, conn, share, share["peer"], item, known.get(item.uuid), tag_id)
    return len(fresh)


def _unseen(current: sqlite3.Row | None) -> bool:
    """Did this share never bring the person here (no row, or only a remembered
    withdraw or erase of someone it never sent)?"""
    return current is None or current["unseen_at"] is not None


def _remember_unseen(conn: sqlite3.Connection, share: sqlite3.Row, items: list[Item]) -> None:
    """A withdraw or erase of someone this share never brought here undoes nothing and
    leaves no tombstone: only a short-lived `received` row, so that an older upsert of
    that person, still on its way in a batch sent earlier, stays out (node/limits.py)."""
    now = clocks.system_clock()
    limits.check_unseen_room(conn, share["id"], len(items), now)
    state = {"withdraw": "withdrawn", "erase": "erased"}
    inbound.remember_unseen(conn, share["id"],
                            [(item.uuid, item.version, state[item.op]) for item in items], now)


def _check_grant(item: Item, columns: set[str], contacts: bool, donations: bool) -> None:
    """A granter that sends more than its own terms grant is refused outright."""
    if item.op != "upsert":
        return
    extra = set(item.fields or {}) - columns
    if extra:
        raise MalformedMessage(f"item carries fields outside the share: {sorted(extra)}")
    if (item.contacts is not None) != contacts or (item.donations is not None) != donations:
        raise MalformedMessage("item's contacts or donations do not match the share's terms")


@dataclass(frozen=True)
class Grant:
    """What the subscriber may write from a batch: person columns and record kinds."""

    columns: set[str]
    kinds: set[str]


def _upsert_all(node: Node, conn: sqlite3.Connection, share: sqlite3.Row, items: list[Item],
                tag_id: int, writable: Grant, held: dict[str, sqlite3.Row]) -> None:
    """Create or update the copies of many people with a handful of bulk statements;
    `held` is the share's `received` rows of them read before, by origin uuid."""
    origin = share["peer"]
    live = _not_erased(node, conn, share, items)
    attached = _attach_targets(node, conn, live)
    plain = [_only(item, writable.columns) for item in live
             if item.uuid not in attached and item.chain is None]
    existing = inbound.received_people(conn, origin, [item.uuid for item in plain])
    person_of = {**write_people(conn, origin, [(i.uuid, i.fields or {}) for i in plain],
                                existing), **attached}
    forwarded = [_only(item, writable.columns) for item in live if item.chain is not None]
    person_of.update(_write_forwarded(conn, forwarded))
    staged.add_members(conn, share["id"], tag_id,
                       [(i.uuid, i.version, person_of[i.uuid]) for i in live], held)
    created = {item.uuid for item in plain if item.uuid not in existing}
    for kind in sorted(writable.kinds):  # a copy created just now has no records to drop
        lists = {person_of[i.uuid]: [dict(r) for r in getattr(i, kind)] for i in live
                 if getattr(i, kind) is not None and (getattr(i, kind) or i.uuid not in created)}
        if lists:
            inbound.sync_received_records(conn, kind, origin, lists)
    reshare.apply_relayed(conn, node.node_id, origin, live, person_of, writable.kinds)
    reshare_store.set_forwarded(conn, share["id"], [(i.uuid, i.chain.origin) for i in forwarded
                                                    if i.chain is not None])

def _write_forwarded(conn: sqlite3.Connection, items: list[Item]) -> dict[str, str]:
    """Copies of people forwarded from their origin through other nodes: stored under the
    origin's (node, uuid), so a person reached by two paths is one person here. A middle
    node's values never overwrite a copy the origin itself sends us: then only the
    membership is recorded."""
    person_of: dict[str, str] = {}
    by_origin: dict[str, list[Item]] = {}
    for item in items:
        assert item.chain is not None
        by_origin.setdefault(item.chain.origin, []).append(item)
    for origin, group in by_origin.items():
        as_origin = {item.chain.uuid: item for item in group if item.chain is not None}
        existing = inbound.received_people(conn, origin, list(as_origin))
        direct = reshare_store.held_directly(conn, origin,
                                             [row["uuid"] for row in existing.values()])
        writes = [(uuid, {} if uuid in existing and existing[uuid]["uuid"] in direct
                       else item.fields or {})
                  for uuid, item in as_origin.items()]
        written = write_people(conn, origin, writes, existing)
        person_of.update({item.uuid: written[uuid] for uuid, item in as_origin.items()})
    return person_of


def _not_erased(node: Node, conn: sqlite3.Connection, share: sqlite3.Row,
                items: list[Item]) -> list[Item]:
    """The items whose person was never erased here; the others are recorded as erased."""
    if not items or not inbound.any_tombstones(conn):
        return items
    buried = erased_here(conn, share, {
        item.uuid: (item.version, node.tombstone_key(item.chain.uuid, item.chain.origin)
                    if item.chain else node.tombstone_key(item.uuid, share["peer"]))
        for item in items})
    return [item for item in items if item.uuid not in buried]


def erased_here(conn: sqlite3.Connection, share: sqlite3.Row,
                keys: dict[str, tuple[int, str]]) -> set[str]:
    """Of these people (uuid -> (version, tombstone key)), the ones erased here before,
    recorded as erased in the share (their keyed hashes are computed by the caller only
    when the node holds any tombstone at all)."""
    buried = inbound.tombstoned(conn, [key for _, key in keys.values()])
    erased = {uuid for uuid, (_, key) in keys.items() if key in buried}
    inbound.set_received_many(conn, share["id"], [(uuid, keys[uuid][0], None, "erased")
                                                for uuid in erased])
    return erased


def _only(item: Item, columns: set[str]) -> Item:
    """The item with just the columns the subscriber may write (older terms may carry more)."""
    fields = item.fields or {}
    if set(fields) <= columns:
        return item
    return replace(item, fields={k: v for k, v in fields.items() if k in columns})


def _attach_targets(node: Node, conn: sqlite3.Connection, items: list[Item]) -> dict[str, str]:
    """Items that refer to a person this node already holds (its own, or its copy from the
    referenced origin): the sender's records attach there instead of to a new copy."""
    targets: dict[str, str] = {}
    for item in items:
        if item.ref is None:
            continue
        ref_node, ref_uuid = item.ref
        if ref_node == node.node_id:
            if inbound.local_person_exists(conn, ref_uuid):
                targets[item.uuid] = ref_uuid
            continue
        copy = inbound.received_person(conn, ref_node, ref_uuid)
        if copy is not None:
            targets[item.uuid] = copy["uuid"]
    return targets


def write_people(conn: sqlite3.Connection, origin: str,
                 people: list[tuple[str, dict[str, str | None]]],
                 existing: dict[str, sqlite3.Row]) -> dict[str, str]:
    """Insert new copies and update changed ones, from (origin uuid, fields) of people
    the caller may write; returns origin uuid -> local row uuid."""
    now = normalize.now_iso()
    person_of: dict[str, str] = {}
    inserts: list[tuple[str, str, dict[str, str | None]]] = []
    updates: list[tuple[str, dict[str, str | None]]] = []
    relink: list[tuple[str, dict[str, str | None]]] = []
    for origin_uuid, fields in people:
        row = existing.get(origin_uuid)
        if row is None:
            person = person_of[origin_uuid] = uuid7()
            inserts.append((person, origin_uuid, fields))
            relink.append((person, fields))
            continue
        person = person_of[origin_uuid] = row["uuid"]
        changes = {k: v for k, v in fields.items() if row[k] != v}
        if changes:
            updates.append((person, changes))
            if "email" in changes or "phone" in changes:
                relink.append((person, {"email": row["email"], "phone": row["phone"],
                                        **changes}))
    people_store.update_people(conn, updates, now)
    link_of = matching.links_for(conn, relink)
    staged.insert_copies(conn, origin, [
        (person, origin_uuid, *[fields.get(c) for c in people_store.PERSON_FIELDS],
         link_of.pop(person)) for person, origin_uuid, fields in inserts], now)
    inbound.set_links(conn, [(link, person) for person, link in link_of.items()])
    return person_of


def _withdraw(conn: sqlite3.Connection, share: sqlite3.Row, origin: str, item: Item,
              tag_id: int, current: sqlite3.Row | None) -> None:
    person = current["person"] if current is not None else None
    inbound.set_received(conn, share["id"], item.uuid, version=item.version, person=person,
                       state="withdrawn")
    if person is not None:
        people_store.remove_tagging(conn, tag_id, person)
        if inbound.memberships(conn, person) == 0:
            forget_person(conn, person, origin, copy_origin=_forwarded_from(current))


def _forwarded_from(current: sqlite3.Row | None) -> str | None:
    """The origin of a person this share forwarded from another node, else None."""
    return current["origin"] if current is not None else None


def _erase(node: Node, conn: sqlite3.Connection, share: sqlite3.Row, origin: str,
           item: Item, current: sqlite3.Row | None, tag_id: int) -> None:
    """The origin erased the person: delete everything it sent (its copy, its records),
    keeping only the subscriber's own records; where its records hung on a person of ours
    (or of another origin), delete just those records."""
    forwarded_from = _forwarded_from(current)
    if forwarded_from is not None and current is not None:
        _erase_forwarded(node, conn, share, item, current, tag_id)
        return
    row = inbound.received_person(conn, origin, item.uuid)
    if row is not None:
        people_store.remove_tagging(conn, tag_id, row["uuid"])
        forget_person(conn, row["uuid"], origin, gone="erase")
    elif current is not None and current["person"] is not None:
        inbound.drop_received_records(conn, current["person"], origin)
        people_store.remove_tagging(conn, tag_id, current["person"])
    people_store.add_tombstone(conn, node.tombstone_key(item.uuid, origin), normalize.now_iso())
    inbound.set_received(conn, share["id"], item.uuid, version=item.version, person=None,
                       state="erased")


def _erase_forwarded(node: Node, conn: sqlite3.Connection, share: sqlite3.Row, item: Item,
                     current: sqlite3.Row, tag_id: int) -> None:
    """A middle node passes on its origin's erasure: the copy goes, with a tombstone of the
    origin's (node, uuid), unless another share still holds the person (the origin's own,
    or another path): a middle node cannot erase what others still send us."""
    person = current["person"]
    inbound.set_received(conn, share["id"], item.uuid, version=item.version, person=None,
                         state="erased")
    if person is None:
        return
    people_store.remove_tagging(conn, tag_id, person)
    row = people_store.get_person(conn, person)
    if row is None or inbound.memberships(conn, person) > 0:
        inbound.drop_received_records(conn, person, share["peer"])
        return
    forget_person(conn, person, share["peer"], copy_origin=row["origin"], gone="erase")
    people_store.add_tombstone(conn, node.tombstone_key(row["origin_uuid"], row["origin"]),
                               normalize.now_iso())


def forget_person(conn: sqlite3.Connection, person: str, origin: str, *,
                  copy_origin: str | None = None, gone: str = "withdraw") -> None:
    """Remove what `origin` sent about a person; keep the subscriber's own records on them,
    and never touch a person that is not `origin`'s copy (its records were attached), or,
    for a copy forwarded by `origin`, `copy_origin`'s. A deleted copy leaves a note of how
    it went, so that a re-share passes a withdraw on as a withdraw."""
    inbound.drop_received_records(conn, person, origin)
    row = people_store.get_person(conn, person)
    if row is None or row["origin"] != (copy_origin or origin):
        return
    if inbound.has_own_records(conn, person):
        blank = {column: None for column in people_store.PERSON_FIELDS}
        people_store.update_person(conn, person, blank, normalize.now_iso())
    else:
        people_store.delete_person(conn, person)
    reshare_store.note_gone(conn, person, gone, normalize.now_iso())


def end_subscription(node: Node, conn: sqlite3.Connection, share: sqlite3.Row,
                     status: str) -> int:
    """The share ended (revoked or left): purge what came only through it, or keep it frozen.
    People it forwarded from another origin go by that origin's terms, not the middle
    node's; shares that re-shared what it brought end too."""
    store.set_share_status(conn, share["id"], status, normalize.now_iso())
    reshare.end_downstream(node, conn, share)
    if share["local_tag"] is None:
        return 0
    terms = reshare.on_revoke_by_origin(share)
    tag_id = people_store.tag_id(conn, share["local_tag"], create=False)
    purged = 0
    for member in inbound.members_of(conn, share["id"]):
        if terms.get(member["origin"], share["on_revoke"]) != "purge":
            continue
        inbound.set_received(conn, share["id"], member["origin_uuid"], version=member["version"],
                           person=member["person"], state="withdrawn")
        if member["person"] is None:
            continue
        if tag_id is not None:
            people_store.remove_tagging(conn, tag_id, member["person"])
        if inbound.memberships(conn, member["person"]) == 0:
            forget_person(conn, member["person"], share["peer"], copy_origin=member["origin"])
            purged += 1
    return purged


def drop_stale_members(node: Node, conn: sqlite3.Connection, share: sqlite3.Row,
                       epoch: str) -> int:
    """A full resend under `epoch` is complete: whoever it did not contain has left the
    share (the granter was restored from a backup, or the copies had diverged)."""
    tag_id = people_store.tag_id(conn, share["local_tag"], create=True) or 0
    stale = inbound.members_not_in_epoch(conn, share["id"], epoch)
    for member in stale:
        _withdraw(conn, share, share["peer"], Item(op="withdraw", uuid=member["origin_uuid"],
                                                    version=member["version"]),
                  tag_id, member)
    return len(stale)
