"""What the OSDI API does, on the node's own services: reads in pages, and writes that
are ordinary writes (the same functions as the CLI, so the outbox triggers carry them
to subscribers). People are matched by the import's rule (csvio.apply_rows)."""

import sqlite3
from dataclasses import dataclass

from tagshare.node import csvio, normalize
from tagshare.node import people as people_ops
from tagshare.node.errors import InvalidInput, NodeError, NotFound
from tagshare.node.ids import is_uuid
from tagshare.node.import_rows import Row
from tagshare.node.node import Node
from tagshare.node.storage import db
from tagshare.node.storage import osdi as store
from tagshare.node.storage import people as people_store
from tagshare.node.storage.osdi import PeopleFilter
from tagshare.node.storage.people import PERSON_FIELDS


class ReadOnlyPerson(NodeError):
    """A person received from a peer: readable, not writable (as in the CLI)."""


@dataclass(frozen=True)
class Page:
    rows: list[sqlite3.Row]
    total: int


def person_uuid(text: str) -> str:
    """A person id from a URL: a uuid, or NotFound (never a lookup by anything else)."""
    if not is_uuid(text):
        raise NotFound(f"no person with id {text[:60]!r}")
    return text.lower()


def people_page(node: Node, condition: PeopleFilter | None, limit: int, offset: int,
                counts: "PeopleCounts | None" = None) -> Page:
    rows = store.people_page(node.conn, condition, limit=limit, offset=offset)
    total = (counts or PeopleCounts()).count(node, condition)
    return Page(rows, total)


class PeopleCounts:
    """How many people match each filter, kept until the database changes.

    Counting a million people takes 60-100 ms and a client paging through them asks
    for every page: one count per quiet pass instead. One per served node.
    """

    def __init__(self) -> None:
        self.mark: tuple[int, int] | None = None
        self.counts: dict[PeopleFilter | None, int] = {}

    def count(self, node: Node, condition: PeopleFilter | None) -> int:
        mark = store.change_mark(node.conn)
        if mark != self.mark or len(self.counts) > 100:
            self.mark, self.counts = mark, {}
        if condition not in self.counts:
            self.counts[condition] = store.count_people(node.conn, condition)
        return self.counts[condition]


def get_person(node: Node, uuid: str) -> sqlite3.Row:
    row = store.person_with_origin(node.conn, person_uuid(uuid))
    if row is None:
        raise NotFound(f"no person with id {uuid}")
    return row


def upsert_person(node: Node, fields: dict[str, str | None], add_tags: list[str],
                  remove_tags: list[str]) -> tuple[str, bool]:
    """POST /people and the signup helper: match by the import's rule (email, then
    phone), merge the non-empty fields, tag; (uuid, whether the person is new)."""
    cleaned = people_ops.clean_fields(fields, node.region)
    if not cleaned.get("email") and not cleaned.get("phone"):
        raise InvalidInput("a person needs an email address or a phone number")
    row = Row(line=0, values=tuple(cleaned.get(f) for f in PERSON_FIELDS), tags=add_tags,
              uuid=None)
    with db.transaction(node.conn) as conn:
        report, landed = csvio.apply_rows(node, [row])
        _untag(conn, landed[0], remove_tags)
    return landed[0], report.added == 1


def update_person(node: Node, uuid: str, fields: dict[str, str | None], add_tags: list[str],
                  remove_tags: list[str]) -> str:
    """PUT /people/{id}: the fields named change (null deletes), the rest stay."""
    row = get_person(node, uuid)
    if row["origin"] is not None:
        raise ReadOnlyPerson(f"person {row['uuid']} was received from another node and is "
                             "read-only here: tag them or log contacts instead")
    if fields:
        people_ops.edit_person(node, row["uuid"], fields)
    if add_tags:
        people_ops.add_tags(node, row["uuid"], add_tags)
    if remove_tags:
        people_ops.remove_tags(node, row["uuid"], remove_tags)
    return str(row["uuid"])


def _untag(conn: sqlite3.Connection, uuid: str, names: list[str]) -> None:
    for name in names:
        tag = people_store.tag_id(conn, name, create=False)
        if tag is not None:
            people_store.remove_tagging(conn, tag, uuid)


# --- tags and taggings --------------------------------------------------------------


def tag_number(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise NotFound(f"no tag with id {text[:60]!r}")
    return int(text)


def get_tag(node: Node, tag: str) -> sqlite3.Row:
    row = store.tag_by_id(node.conn, tag_number(tag))
    if row is None:
        raise NotFound(f"no tag with id {tag}")
    return row


def tags_page(node: Node, limit: int, offset: int) -> Page:
    return Page(store.tags_page(node.conn, limit=limit, offset=offset),
                store.count_tags(node.conn))


def create_tag(node: Node, name: str) -> sqlite3.Row:
    """POST /tags: the tag, made if it is new (as Action Network, a repeat is harmless)."""
    clean = normalize.normalize_tag(name)
    with db.transaction(node.conn) as conn:
        number = people_store.tag_id(conn, clean, create=True)
    row = store.tag_by_id(node.conn, number or 0)
    assert row is not None
    return row


def taggings_page(node: Node, *, tag: str | None = None, person: str | None = None,
                  limit: int, offset: int) -> Page:
    if tag is not None:
        number = get_tag(node, tag)["id"]
        return Page(store.taggings_page(node.conn, tag=number, limit=limit, offset=offset),
                    store.count_taggings(node.conn, tag=number))
    uuid = get_person(node, person or "")["uuid"]
    return Page(store.taggings_page(node.conn, person=uuid, limit=limit, offset=offset),
                store.count_taggings(node.conn, person=uuid))


def add_tagging(node: Node, tag: str, person: str) -> tuple[sqlite3.Row, str]:
    """Tag a person (local or received, as `tagshare tag add` may)."""
    row = get_tag(node, tag)
    uuid = get_person(node, person)["uuid"]
    people_ops.add_tags(node, uuid, [row["name"]])
    return row, str(uuid)


def get_tagging(node: Node, tag: str, person: str) -> tuple[sqlite3.Row, str]:
    row = get_tag(node, tag)
    uuid = person_uuid(person)
    if not store.has_tagging(node.conn, row["id"], uuid):
        raise NotFound(f"person {uuid} does not carry tag {row['name']!r}")
    return row, uuid


def remove_tagging(node: Node, tag: str, person: str) -> None:
    row = get_tag(node, tag)
    uuid = person_uuid(person)
    if not store.has_tagging(node.conn, row["id"], uuid):
        raise NotFound(f"person {uuid} does not carry tag {row['name']!r}")
    people_ops.remove_tags(node, uuid, [row["name"]])


# --- donations and field contacts -----------------------------------------------------


def activity_page(node: Node, table: str, person: str | None, limit: int,
                  offset: int) -> Page:
    uuid = None if person is None else str(get_person(node, person)["uuid"])
    return Page(store.activity_page(node.conn, table, uuid, limit=limit, offset=offset),
                store.count_activity(node.conn, table, uuid))


def get_activity(node: Node, table: str, uuid: str) -> sqlite3.Row:
    row = store.activity_by_uuid(node.conn, table, uuid.lower()) if is_uuid(uuid) else None
    if row is None:
        raise NotFound(f"no {table[:-1]} with id {uuid[:60]!r}")
    return row


def add_donation(node: Node, person: str, *, amount: str, currency: str,
                 at: str | None) -> sqlite3.Row:
    uuid = str(get_person(node, person)["uuid"])
    made = people_ops.add_donation(node, uuid, amount=amount, currency=currency, at=at)
    return get_activity(node, "donations", made)


def add_canvass(node: Node, person: str, *, method: str, outcome: str | None,
                note: str | None, at: str | None, by: str | None) -> sqlite3.Row:
    uuid = str(get_person(node, person)["uuid"])
    made = people_ops.add_contact(node, uuid, method=method, outcome=outcome, note=note,
                                  at=at, by=by)
    return get_activity(node, "contacts", made)
