"""Matching people: the one rule for imports, `people add` and received people's links,
and the operator's review of doubtful cases.

Two different emails are two different people, always. A person (an import row, or a
received person) with an email matches only the local person with that email, never
one with another email or none, even on the same phone. One without an email may match
the one local person who holds its phone, unless that person has another name (first
or last, when both sides give it); among several holders, only the one with exactly its
name. Otherwise nothing is merged: an import row is added as a new person, a received
person stays unlinked, and either is recorded as ambiguous with its candidates and a
reason, for `tagshare match list`. Two local people with one email (older data)
make a received person with that email ambiguous too.

The operator settles a case with `match link` (received people) or `match keep-apart`;
from then on that decision wins over automatic matching, whatever the granter later
sends.
"""

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from tagshare.node import normalize
from tagshare.node.errors import Ambiguous, InvalidInput, NotFound
from tagshare.node.ids import is_uuid
from tagshare.node.node import Node
from tagshare.node.storage import db
from tagshare.node.storage import matching as store
from tagshare.node.storage import people as people_store

Fields = Mapping[str, str | None]
Holder = tuple[str, str | None, str | None]  # a phone's holder: uuid, first and last name
Case = tuple[str, list[tuple[str, str]]]  # why it is doubtful, [(candidate, matched on)]


def match_by_phone(first: str | None, last: str | None,
                   holders: Sequence[Holder]) -> tuple[str | None, list[str]]:
    """For someone WITHOUT an email: (the one holder of its phone it may match, []), or
    (None, the holders) when that is doubtful, or (None, []) when nobody holds it.

    The one holder matches unless it has another name. Among several holders, the one
    with exactly the same first and last name (both absent counts) is meant, so that a
    row once added apart matches itself when the file is imported again.
    """
    if len(holders) == 1 and not _other_name(first, last, holders[0]):
        return holders[0][0], []
    same = [uuid for uuid, *names in holders if _fold(first, last) == _fold(*names)]
    if len(same) == 1:
        return same[0], []
    return None, [uuid for uuid, _, _ in holders]


def _other_name(first: str | None, last: str | None, holder: Holder) -> bool:
    return any(mine and theirs and mine.casefold() != theirs.casefold()
               for mine, theirs in ((first, holder[1]), (last, holder[2])))


def _fold(*names: str | None) -> tuple[str, ...]:
    return tuple((name or "").casefold() for name in names)


def phone_reason(holders: Sequence[Holder], whose: str = "") -> str:
    """Why an email-less person's phone did not match, in the operator's words."""
    if len(holders) == 1:
        name = " ".join(filter(None, holders[0][1:])) or holders[0][0]
        return f"no email; phone held by {whose}{name}, another name"
    return f"no email; phone held by {len(holders)} {whose}people"


def links_for(conn: sqlite3.Connection,
              people: Sequence[tuple[str, Fields]]) -> dict[str, str | None]:
    """The link of each received person (its uuid and its fields), decided in bulk: one
    query per kind for the whole batch. Records the ambiguous cases."""
    reviews = store.reviews_of(conn, [person for person, _ in people])
    open_cases = [(person, fields) for person, fields in people
                  if person not in reviews or reviews[person]["state"] == "ambiguous"]
    emails = people_store.uuids_for_keys(
        conn, "email", sorted({e for _, f in open_cases if (e := f.get("email"))}))
    phones = people_store.phone_holders(
        conn, [ph for _, f in open_cases if not f.get("email") and (ph := f.get("phone"))])
    links: dict[str, str | None] = {person: reviews[person]["local"] for person, _ in people
                                    if person in reviews}
    ambiguous: list[tuple[str, str, list[tuple[str, str]]]] = []
    settled: list[str] = []
    for person, fields in open_cases:
        links[person], case = _link_of(fields, emails, phones)
        if case is not None:
            ambiguous.append((person, *case))
        elif person in reviews:
            settled.append(person)
    store.record_ambiguous(conn, normalize.now_iso(), ambiguous)
    store.clear_reviews(conn, settled)
    return links


def _link_of(fields: Fields, emails: dict[str, list[str]],
             phones: dict[str, list[Holder]]) -> tuple[str | None, Case | None]:
    """The local person a received person is linked to, or the doubtful case."""
    email, phone = fields.get("email"), fields.get("phone")
    if email:
        found = sorted(set(emails.get(normalize.email_key(email), [])))
        if len(found) > 1:
            return None, (f"email held by {len(found)} local people",
                          [(uuid, "email") for uuid in found])
        return (found[0] if found else None), None
    holders = phones.get(phone, []) if phone else []
    person, doubtful = match_by_phone(fields.get("first_name"), fields.get("last_name"),
                                      holders)
    if doubtful:
        return None, (phone_reason(holders, "local "), [(uuid, "phone") for uuid in doubtful])
    return person, None


# --- the operator's review ---------------------------------------------------------


def ambiguous_cases(node: Node) -> list[dict[str, Any]]:
    """People left for review: received people left unlinked, and imported rows added
    as new people, because they might be several local people (or one of another name).
    `source` is "peer" or "import"; `reason` says why in words."""
    cases = store.ambiguous_cases(node.conn)
    candidates: dict[str, list[dict[str, Any]]] = {case["uuid"]: [] for case in cases}
    for row in store.candidates_of(node.conn, list(candidates)):
        candidates[row["person"]].append({
            "uuid": row["uuid"], "name": _name(row), "email": row["email"],
            "phone": row["phone"], "matched_on": row["matched_on"].split(","),
        })
    return [{"uuid": case["uuid"], "origin": case["origin"],
             "peer": case["peer_name"] or case["origin"], "name": _name(case),
             "email": case["email"], "phone": case["phone"], "since": case["at"],
             "source": "import" if case["origin"] is None else "peer",
             "reason": case["reason"] or "its email or phone matches several local people",
             "candidates": candidates[case["uuid"]]} for case in cases]


def link(node: Node, received_ref: str, local_ref: str) -> tuple[str, str]:
    """Link a received person to a local one, for good; audited."""
    with db.transaction(node.conn) as conn:
        received = _resolve(conn, received_ref, node.region, received=True)
        local = _resolve(conn, local_ref, node.region, received=False)
        store.decide(conn, received, state="linked", local=local, at=normalize.now_iso())
        node.audit("match.link", person=received, local=local)
    return received, local


def keep_apart(node: Node, received_ref: str) -> str:
    """Mark a received person as nobody local, never to be matched automatically, or an
    imported row under review as a person of its own; audited."""
    with db.transaction(node.conn) as conn:
        received = _imported_under_review(conn, received_ref) or _resolve(
            conn, received_ref, node.region, received=True)
        store.decide(conn, received, state="apart", local=None, at=normalize.now_iso())
        node.audit("match.keep_apart", person=received)
    return received


def _imported_under_review(conn: sqlite3.Connection, ref: str) -> str | None:
    """The uuid REF when it names a local person (an imported row) under review."""
    text = ref.strip().lower()
    if not is_uuid(text) or not store.under_review(conn, text):
        return None
    row = people_store.get_person(conn, text)
    return text if row is not None and row["origin"] is None else None


def _resolve(conn: sqlite3.Connection, ref: str, region: str, *, received: bool) -> str:
    """RECEIVED or LOCAL on the command line: a uuid, an email or a phone, of that kind."""
    kind = "received person" if received else "local person"
    text = ref.strip()
    if is_uuid(text):
        row = people_store.get_person(conn, text.lower())
        if row is None:
            raise NotFound(f"no person with uuid {text}: check `tagshare match list`")
        if (row["origin"] is not None) != received:
            if received and store.under_review(conn, row["uuid"]):
                raise InvalidInput(
                    f"person {row['uuid']} is an imported row under review, one of this "
                    "node's own people: `match link` takes a received person; "
                    f"`match keep-apart {row['uuid']}` keeps it as a person of its own")
            other = "one of this node's own people" if received else "received from a peer"
            raise InvalidInput(f"person {row['uuid']} is {other}, not a {kind}: "
                               "`match link` takes a received person, then a local one")
        return str(row["uuid"])
    uuids = _by_key(conn, text, region, received)
    if not uuids:
        raise NotFound(f"no {kind} has {ref!r}: check `tagshare match list`")
    if len(uuids) > 1:
        raise Ambiguous(f"{ref!r} matches {len(uuids)} {kind}s ({', '.join(uuids[:5])}): "
                        "give a uuid instead")
    return uuids[0]


def _by_key(conn: sqlite3.Connection, text: str, region: str, received: bool) -> list[str]:
    if "@" in text:
        column, value = "email", normalize.normalize_email(text) or ""
    else:
        try:
            column, value = "phone", normalize.normalize_phone(text, region) or ""
        except InvalidInput:
            return []
    if received:
        return store.received_by_key(conn, column, value)
    if column == "email":
        return people_store.uuids_by_email(conn, value, local_only=True)
    return people_store.uuids_by_phone(conn, value, local_only=True)


def _name(row: sqlite3.Row) -> str:
    return " ".join(filter(None, [row["first_name"], row["last_name"]]))
