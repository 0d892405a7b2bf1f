"""Linking received people to local people, and the operator's review of doubtful cases.

A received person is linked to the one local person that its normalized email
or phone names. When its email and phone together name more than one local
person (two local people share the email or the phone, or the email names one
and the phone another) nothing is merged: it stays unlinked and is recorded as
ambiguous with its candidates, for `tagshare match list`. The operator settles
a case with `match link` or `match keep-apart`; from then on that decision
wins over automatic matching, whatever the granter later sends.
"""

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from node import normalize
from node.errors import Ambiguous, InvalidInput, NotFound
from node.ids import is_uuid
from node.node import Node
from node.storage import db
from node.storage import matching as store
from node.storage import people as people_store

Fields = Mapping[str, str | None]


def links_for(conn: sqlite3.Connection,
              people: Sequence[tuple[str, Fields]]) -> dict[str, str | None]:
    """The link of each received person (its uuid and its email and phone), decided in
    bulk: one query per kind for the whole batch. Records the ambiguous cases."""
    reviews = store.reviews_of(conn, [person for person, _ in people])
    open_cases = [(person, fields) for person, fields in people
                  if person not in reviews or reviews[person]["state"] == "ambiguous"]
    emails = people_store.uuids_for_keys(
        conn, "email", sorted({e for _, f in open_cases if (e := f.get("email"))}))
    phones = people_store.uuids_for_keys(
        conn, "phone", sorted({ph for _, f in open_cases if (ph := f.get("phone"))}))
    links: dict[str, str | None] = {person: reviews[person]["local"] for person, _ in people
                                    if person in reviews}
    ambiguous: list[tuple[str, list[tuple[str, str]]]] = []
    settled: list[str] = []
    for person, fields in open_cases:
        found = _candidates(fields, emails, phones)
        links[person] = next(iter(found)) if len(found) == 1 else None
        if len(found) > 1:
            ambiguous.append((person, sorted(found.items())))
        elif person in reviews:
            settled.append(person)
    store.record_ambiguous(conn, normalize.now_iso(), ambiguous)
    store.clear_reviews(conn, settled)
    return links


def _candidates(fields: Fields, emails: dict[str, list[str]],
                phones: dict[str, list[str]]) -> dict[str, str]:
    """Local people named by the email or the phone -> what matched ('email', 'phone'
    or 'email,phone')."""
    email, phone = fields.get("email"), fields.get("phone")
    by_email = set(emails.get(normalize.email_key(email), [])) if email else set()
    by_phone = set(phones.get(phone, [])) if phone else set()
    return {uuid: ",".join(on for on, hits in (("email", by_email), ("phone", by_phone))
                           if uuid in hits)
            for uuid in by_email | by_phone}


# --- the operator's review ---------------------------------------------------------


def ambiguous_cases(node: Node) -> list[dict[str, Any]]:
    """Received people left unlinked because they match several local people."""
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
    """Mark a received person as nobody local, never to be matched automatically; audited."""
    with db.transaction(node.conn) as conn:
        received = _resolve(conn, received_ref, node.region, received=True)
        store.decide(conn, received, state="apart", local=None, at=normalize.now_iso())
        node.audit("match.keep_apart", person=received)
    return received


def _resolve(conn: sqlite3.Connection, ref: str, region: str, *, received: bool) -> str:
    """RECEIVED or LOCAL on the command line: a uuid, an email or a phone, of that kind."""
    kind = "received person" if received else "local person"
    text = ref.strip()
    if is_uuid(text):
        row = people_store.get_person(conn, text.lower())
        if row is None:
            raise NotFound(f"no person with uuid {text}: check `tagshare match list`")
        if (row["origin"] is not None) != received:
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
