"""The relationship database as operators use it: people, tags, contacts, donations.

Every function here is one command's worth of work and runs in one
transaction, so a failure leaves nothing half-written.
"""

import json
import re
import sqlite3
from typing import Any

from tagshare.node import normalize
from tagshare.node.coordination import window_start
from tagshare.node.errors import Ambiguous, InvalidInput, NotFound
from tagshare.node.ids import is_uuid, uuid7
from tagshare.node.node import Node
from tagshare.node.shares import list_shares, sync_state, sync_summary
from tagshare.node.storage import activity, db, meta, search
from tagshare.node.storage import people as store
from tagshare.node.storage import received as inbound
from tagshare.node.storage.people import PERSON_FIELDS

CONTACT_METHODS = ("door", "phone", "text", "email", "event", "other")
MAX_FIELD = normalize.MAX_FIELD


def clean_fields(raw: dict[str, str | None], region: str) -> dict[str, str | None]:
    """Trim, normalize and check person fields given by the operator."""
    unknown = set(raw) - set(PERSON_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown person fields: {', '.join(sorted(unknown))}")
    cleaned: dict[str, str | None] = {}
    for field, value in raw.items():
        if value is not None and len(value) > MAX_FIELD:
            raise InvalidInput(f"{field} is longer than {MAX_FIELD} characters")
        if field == "email":
            cleaned[field] = normalize.normalize_email(value)
        elif field == "phone":
            cleaned[field] = normalize.normalize_phone(value, region)
        else:
            text = value.strip() if value is not None else None
            cleaned[field] = text or None
    return cleaned


def resolve_person(conn: sqlite3.Connection, ref: str, region: str) -> str:
    """PERSON on the command line: a uuid, an email or a phone; local people win ties."""
    text = ref.strip()
    if is_uuid(text):
        if store.get_person(conn, text.lower()) is None:
            raise NotFound(f"no person with uuid {text}: check `tagshare people list`")
        return text.lower()
    if "@" in text:
        email = normalize.normalize_email(text) or ""
        return _pick(ref, store.uuids_by_email(conn, email, local_only=True)
                     or store.uuids_by_email(conn, email))
    try:
        phone = normalize.normalize_phone(text, region) or ""
    except InvalidInput:
        raise NotFound(
            f"{ref!r} is not a uuid, an email or a phone number of anyone on this node"
        ) from None
    return _pick(ref, store.uuids_by_phone(conn, phone, local_only=True)
                 or store.uuids_by_phone(conn, phone))


def _pick(ref: str, uuids: list[str]) -> str:
    if not uuids:
        raise NotFound(f"nobody on this node has {ref!r}: check `tagshare people list --search`")
    if len(uuids) > 1:
        shown = ", ".join(uuids[:5])
        raise Ambiguous(f"{ref!r} matches {len(uuids)} people ({shown}): give a uuid instead")
    return uuids[0]


def add_person(node: Node, fields: dict[str, str | None], tags: list[str]) -> str:
    cleaned = clean_fields(fields, node.region)
    tag_names = [normalize.normalize_tag(t) for t in tags]
    if not any(cleaned.values()):
        raise InvalidInput("a person needs at least a name, an email or a phone")
    with db.transaction(node.conn) as conn:
        email = cleaned.get("email")
        if email and store.uuids_by_email(conn, email, local_only=True):
            existing = store.uuids_by_email(conn, email, local_only=True)[0]
            raise InvalidInput(
                f"{email} already belongs to person {existing}: use `tagshare people edit`"
            )
        now = normalize.now_iso()
        uuid = uuid7()
        store.insert_people(conn, [{**cleaned, "uuid": uuid, "created_at": now,
                                    "updated_at": now}])
        _tag(conn, uuid, tag_names)
    return uuid


def edit_person(node: Node, ref: str, fields: dict[str, str | None]) -> str:
    if not fields:
        raise InvalidInput("nothing to change: give at least one field, e.g. --email")
    cleaned = clean_fields(fields, node.region)
    with db.transaction(node.conn) as conn:
        uuid = resolve_person(conn, ref, node.region)
        _require_local(conn, uuid)
        email = cleaned.get("email")
        if email and set(store.uuids_by_email(conn, email, local_only=True)) - {uuid}:
            raise InvalidInput(f"{email} already belongs to another person on this node")
        store.update_person(conn, uuid, cleaned, normalize.now_iso())
    return uuid


def _require_local(conn: sqlite3.Connection, uuid: str) -> None:
    row = store.get_person(conn, uuid)
    if row is not None and row["origin"] is not None:
        raise InvalidInput(
            f"person {uuid} was received from another node and is read-only here: "
            "tag them or log contacts instead"
        )


def _tag(conn: sqlite3.Connection, uuid: str, tag_names: list[str]) -> int:
    pairs = [(store.tag_id(conn, name, create=True) or 0, uuid) for name in tag_names]
    return store.add_taggings(conn, pairs)


def person_dict(row: sqlite3.Row, tags: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {"uuid": row["uuid"], "origin": row["origin"]}
    for field in PERSON_FIELDS:
        data[field] = row[field]
    data.update(created_at=row["created_at"], updated_at=row["updated_at"],
                version=row["version"], tags=tags)
    if row["origin"] is not None:
        data["origin_uuid"] = row["origin_uuid"]
        data["link"] = row["link"]
    return data


def show_person(node: Node, ref: str) -> dict[str, Any]:
    conn = node.conn
    uuid = resolve_person(conn, ref, node.region)
    row = store.get_person(conn, uuid)
    if row is None:
        raise NotFound(f"person {uuid} no longer exists")
    data = person_dict(row, store.tags_of(conn, [uuid])[uuid])
    data["sources"] = _sources(conn, row)
    data["contacts"] = [dict(c) for c in activity.contacts_of(conn, uuid)]
    data["donations"] = [
        {**dict(d), "amount": normalize.format_cents(d["amount_cents"])}
        for d in activity.donations_of(conn, uuid)
    ]
    return data


def _sources(conn: sqlite3.Connection, row: sqlite3.Row) -> list[dict[str, Any]]:
    """Every copy of this person the node holds, with each one's values and origin."""
    if row["origin"] is not None:
        local = store.get_person(conn, row["link"]) if row["link"] else None
        copies = [row] + ([local] if local is not None else [])
    else:
        copies = [row, *inbound.linked_copies(conn, row["uuid"])]
    return [{"origin": copy["origin"], "uuid": copy["uuid"],
             "origin_uuid": copy["origin_uuid"],
             **{field: copy[field] for field in PERSON_FIELDS}} for copy in copies]


def list_people(
    node: Node, *, tag: str | None = None, search: str | None = None, limit: int | None = None,
    not_contacted_since: str | None = None,
) -> list[dict[str, Any]]:
    """People, oldest first; `not_contacted_since` (e.g. '14d') leaves out anyone contacted
    in that window by any organization whose contacts reach this node."""
    if limit is not None and limit < 1:
        raise InvalidInput("--limit must be at least 1")
    since = (window_start(not_contacted_since, "--not-contacted-since")
             if not_contacted_since is not None else None)
    rows = list(store.list_people(node.conn, tag=tag, search=search, limit=limit,
                                  not_contacted_since=since))
    tags = store.tags_of(node.conn, [r["uuid"] for r in rows])
    return [person_dict(r, tags[r["uuid"]]) for r in rows]


MAX_SEARCH_WORDS = 10


def search_people(node: Node, query: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """People whose name, email, phone or city match every word of `query` (a word
    matches the start of a word: 'mar' finds Maria), best match first. A query that is a
    phone number, in any format, finds that number."""
    if limit < 1:
        raise InvalidInput("--limit must be at least 1")
    uuids = search.search_people(node.conn, _match_expression(query, node.region), limit)
    rows = store.people_fields(node.conn, uuids)
    tags = store.tags_of(node.conn, uuids)
    return [person_dict(rows[uuid], tags[uuid]) for uuid in uuids if uuid in rows]


def _match_expression(query: str, region: str) -> str:
    """The operator's words as an FTS5 expression of quoted prefixes: no word of theirs
    is ever read as FTS5 syntax (AND, NEAR, column filters, quotes)."""
    phone = None
    if sum(ch.isdigit() for ch in query) >= 6:  # never read a name as a vanity number
        try:
            phone = normalize.normalize_phone(query, region)
        except InvalidInput:
            phone = None
    words = [phone.lstrip("+")] if phone else _WORD.findall(query)
    if not words:
        raise InvalidInput("give some letters or digits to search for, e.g. "
                           "`tagshare people search maria`")
    if len(words) > MAX_SEARCH_WORDS:
        raise InvalidInput(f"at most {MAX_SEARCH_WORDS} words in a search")
    return " ".join(f'"{word[:100]}"*' for word in words)


_WORD = re.compile(r"[^\W_]+")


def erase_person(node: Node, ref: str) -> str:
    with db.transaction(node.conn) as conn:
        uuid = resolve_person(conn, ref, node.region)
        row = store.get_person(conn, uuid)
        origin = row["origin"] if row is not None else None
        store.delete_person(conn, uuid)
        key = (node.tombstone_key(row["origin_uuid"], origin) if row is not None and origin
               else node.tombstone_key(uuid))
        store.add_tombstone(conn, key, normalize.now_iso())
        node.audit("erase", person=uuid, origin=origin)
    return uuid


def add_tags(node: Node, ref: str, tags: list[str]) -> tuple[str, int]:
    names = [normalize.normalize_tag(t) for t in tags]
    with db.transaction(node.conn) as conn:
        uuid = resolve_person(conn, ref, node.region)
        added = _tag(conn, uuid, names)
    return uuid, added


def remove_tags(node: Node, ref: str, tags: list[str]) -> tuple[str, int]:
    names = [normalize.existing_tag(t) for t in tags]  # a tag from before the quote rule too
    removed = 0
    with db.transaction(node.conn) as conn:
        uuid = resolve_person(conn, ref, node.region)
        for name in names:
            tag = store.tag_id(conn, name, create=False)
            if tag is not None and store.remove_tagging(conn, tag, uuid):
                removed += 1
    return uuid, removed


def list_tags(node: Node) -> list[dict[str, Any]]:
    return [{"name": r["name"], "people": r["people"]} for r in store.tag_counts(node.conn)]


def add_contact(
    node: Node, ref: str, *, method: str, outcome: str | None, note: str | None,
    at: str | None, by: str | None,
) -> str:
    if method not in CONTACT_METHODS:
        raise InvalidInput(f"unknown method {method!r}: use one of {', '.join(CONTACT_METHODS)}")
    for label, value in (("outcome", outcome), ("note", note), ("by", by)):
        if value is not None and len(value) > 2000:
            raise InvalidInput(f"--{label} is longer than 2000 characters")
    when = normalize.parse_when(at) if at else normalize.now_iso()
    uuid = uuid7()
    with db.transaction(node.conn) as conn:
        person = resolve_person(conn, ref, node.region)
        activity.insert_contact(conn, {"uuid": uuid, "person": person, "method": method,
                                       "outcome": outcome, "note": note, "at": when, "by": by})
    return uuid


def add_donation(node: Node, ref: str, *, amount: str, currency: str, at: str | None) -> str:
    cents = normalize.parse_amount_cents(amount)
    code = currency.strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise InvalidInput(f"invalid currency {currency!r}: use a 3-letter code such as USD")
    when = normalize.parse_when(at) if at else normalize.now_iso()
    uuid = uuid7()
    with db.transaction(node.conn) as conn:
        person = resolve_person(conn, ref, node.region)
        activity.insert_donation(conn, {"uuid": uuid, "person": person, "amount_cents": cents,
                                        "currency": code, "at": when})
    return uuid


def counts(node: Node) -> dict[str, int]:
    """People, tags someone carries, contacts and donations."""
    data = {table: store.count(node.conn, table) for table in ("people", "contacts", "donations")}
    return {"people": data["people"], "tags": store.carried_tags(node.conn),
            "contacts": data["contacts"], "donations": data["donations"]}


def node_status(node: Node) -> dict[str, Any]:
    """Counts, plus each share's sync state (pending, last delivery, last error, next retry)."""
    data: dict[str, Any] = dict(counts(node))
    data["shares"] = [{**share, "state": sync_state(share)} for share in list_shares(node)]
    data["summary"] = sync_summary(data["shares"])
    return data


def audit_log(node: Node, limit: int | None = None) -> list[dict[str, Any]]:
    return [
        {"id": r["id"], "at": r["at"], "actor": r["actor"], "action": r["action"],
         "detail": json.loads(r["detail"])}
        for r in meta.audit_entries(node.conn, limit)
    ]
