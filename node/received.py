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

from node import normalize
from node.ids import uuid7
from node.node import Node
from node.storage import people as people_store
from node.storage import shares as store
from protocol import Item, MalformedMessage
from protocol.shares import columns_for

CONTACT_COLUMNS = ("uuid", "method", "outcome", "note", "at", "by")
DONATION_COLUMNS = ("uuid", "amount_cents", "currency", "at")


def apply_items(node: Node, conn: sqlite3.Connection, share: sqlite3.Row,
                items: tuple[Item, ...]) -> int:
    """Apply a batch's items inside the caller's transaction; returns how many took effect."""
    granted = tuple(json.loads(share["fields"]))
    columns = set(columns_for(granted))
    for item in items:
        _check_grant(item, columns, "contacts" in granted, "donations" in granted)
    origin = share["peer"]
    known = store.received_rows(conn, share["id"], [item.uuid for item in items])
    tag_id = people_store.tag_id(conn, share["local_tag"], create=True) or 0
    applied = 0
    for item in items:
        current = known.get(item.uuid)
        if current is not None and current["version"] >= item.version:
            continue
        if item.op == "upsert":
            _upsert(node, conn, share, origin, item, tag_id)
        elif item.op == "withdraw":
            _withdraw(conn, share, origin, item, tag_id, current)
        else:
            _erase(node, conn, share, origin, item)
        applied += 1
    return applied


def _check_grant(item: Item, columns: set[str], contacts: bool, donations: bool) -> None:
    """A granter that sends more than its own terms grant is refused outright."""
    if item.op != "upsert":
        return
    extra = set(item.fields or {}) - columns
    if extra:
        raise MalformedMessage(f"item carries fields outside the share: {sorted(extra)}")
    if (item.contacts is not None) != contacts or (item.donations is not None) != donations:
        raise MalformedMessage("item's contacts or donations do not match the share's terms")


def _upsert(node: Node, conn: sqlite3.Connection, share: sqlite3.Row, origin: str,
            item: Item, tag_id: int) -> None:
    if people_store.has_tombstone(conn, node.tombstone_key(item.uuid, origin)):
        store.set_received(conn, share["id"], item.uuid, version=item.version, person=None,
                           state="erased")
        return
    fields = dict(item.fields or {})
    person_row = store.received_person(conn, origin, item.uuid)
    now = normalize.now_iso()
    if person_row is None:
        person = uuid7()
        people_store.insert_people(conn, [{**fields, "uuid": person, "origin": origin,
                                           "origin_uuid": item.uuid, "created_at": now,
                                           "updated_at": now}])
    else:
        person = person_row["uuid"]
        changes = {k: v for k, v in fields.items() if person_row[k] != v}
        if changes:
            people_store.update_person(conn, person, changes, now)
    people_store.add_taggings(conn, [(tag_id, person)])
    if item.contacts is not None:
        store.replace_received_records(conn, "contacts", person, origin,
                                       [dict(c) for c in item.contacts])
    if item.donations is not None:
        store.replace_received_records(conn, "donations", person, origin,
                                       [dict(d) for d in item.donations])
    store.set_link(conn, person, _match_local(conn, people_store.get_person(conn, person)))
    store.set_received(conn, share["id"], item.uuid, version=item.version, person=person,
                       state="member")


def _match_local(conn: sqlite3.Connection, row: sqlite3.Row | None) -> str | None:
    """The one local person with the same email (else phone), if exactly one."""
    if row is None:
        return None
    for column, lookup in (("email", people_store.uuids_by_email),
                           ("phone", people_store.uuids_by_phone)):
        if row[column]:
            found = lookup(conn, row[column], local_only=True)
            if len(found) == 1:
                return found[0]
            if found:
                return None
    return None


def _withdraw(conn: sqlite3.Connection, share: sqlite3.Row, origin: str, item: Item,
              tag_id: int, current: sqlite3.Row | None) -> None:
    person = current["person"] if current is not None else None
    store.set_received(conn, share["id"], item.uuid, version=item.version, person=person,
                       state="withdrawn")
    if person is not None:
        people_store.remove_tagging(conn, tag_id, person)
        if store.memberships(conn, person) == 0:
            forget_person(conn, person, origin)


def _erase(node: Node, conn: sqlite3.Connection, share: sqlite3.Row, origin: str,
           item: Item) -> None:
    row = store.received_person(conn, origin, item.uuid)
    if row is not None:
        people_store.delete_person(conn, row["uuid"])
    people_store.add_tombstone(conn, node.tombstone_key(item.uuid, origin), normalize.now_iso())
    store.set_received(conn, share["id"], item.uuid, version=item.version, person=None,
                       state="erased")


def forget_person(conn: sqlite3.Connection, person: str, origin: str) -> None:
    """Remove what `origin` sent about a person; keep the subscriber's own records on them."""
    store.drop_received_records(conn, person, origin)
    if store.has_own_records(conn, person):
        blank = {column: None for column in people_store.PERSON_FIELDS}
        people_store.update_person(conn, person, blank, normalize.now_iso())
    else:
        people_store.delete_person(conn, person)


def end_subscription(node: Node, conn: sqlite3.Connection, share: sqlite3.Row,
                     status: str) -> int:
    """The share ended (revoked or left): purge what came only through it, or keep it frozen."""
    store.set_share_status(conn, share["id"], status, normalize.now_iso())
    if share["on_revoke"] != "purge" or share["local_tag"] is None:
        return 0
    tag_id = people_store.tag_id(conn, share["local_tag"], create=False)
    purged = 0
    for member in store.members_of(conn, share["id"]):
        store.set_received(conn, share["id"], member["origin_uuid"], version=member["version"],
                           person=member["person"], state="withdrawn")
        if member["person"] is None:
            continue
        if tag_id is not None:
            people_store.remove_tagging(conn, tag_id, member["person"])
        if store.memberships(conn, member["person"]) == 0:
            forget_person(conn, member["person"], share["peer"])
            purged += 1
    return purged
