"""Changing a share's terms while it runs.

The granter proposes version N+1 (`share edit`); the old terms keep flowing.
The subscriber accepts (or a trusted granter's terms are accepted on
arrival): it blanks what the new terms no longer grant and says so; the
granter then switches and re-sends everyone in the share with the new field
set. A batch names the terms version it was built under, so a batch built
under older terms that arrives after the switch writes only what both
versions grant.
"""

import json
import sqlite3

from tagshare.node import normalize
from tagshare.node.errors import InvalidInput
from tagshare.node.node import Node
from tagshare.node.storage import outbox
from tagshare.node.storage import people as people_store
from tagshare.node.storage import received as inbound
from tagshare.node.storage import shares as store
from tagshare.protocol import MalformedMessage, ShareTerms, ShareTermsAccept
from tagshare.protocol.shares import columns_for


def _queue(conn: sqlite3.Connection, peer: str, message: ShareTerms | ShareTermsAccept) -> None:
    outbox.queue_message(conn, peer=peer, type=message.TYPE, body=json.dumps(message.to_dict()),
                        now=normalize.now_iso())


def propose(node: Node, conn: sqlite3.Connection, share: sqlite3.Row,
            fields: tuple[str, ...], on_revoke: str) -> int:
    """Granter: offer the next version of the terms; returns its number."""
    pending = json.loads(share["proposed"]) if share["proposed"] else None
    current = pending or {"fields": json.loads(share["fields"]),
                          "on_revoke": share["on_revoke"]}
    if list(fields) == current["fields"] and on_revoke == current["on_revoke"]:
        raise InvalidInput("these are already the share's terms: nothing to change")
    version = int(pending["version"] if pending else share["terms_version"]) + 1
    now = normalize.now_iso()
    proposal = {"version": version, "fields": list(fields), "on_revoke": on_revoke}
    store.propose_terms(conn, share["id"], json.dumps(proposal), now)
    store.record_terms(conn, share["id"], version, json.dumps(list(fields)), on_revoke,
                       now=now, accepted=False)
    _queue(conn, share["peer"], ShareTerms(share=share["id"], version=version, fields=fields,
                                           on_revoke=on_revoke))
    node.audit("share.edit", share=share["id"], version=version, fields=list(fields),
               on_revoke=on_revoke)
    return version


def receive(node: Node, conn: sqlite3.Connection, share: sqlite3.Row,
            message: ShareTerms) -> None:
    """Subscriber: remember proposed terms (a repeat or an older proposal changes nothing)."""
    pending = json.loads(share["proposed"]) if share["proposed"] else None
    if message.version <= max(share["terms_version"], pending["version"] if pending else 0):
        return
    now = normalize.now_iso()
    proposal = {"version": message.version, "fields": list(message.fields),
                "on_revoke": message.on_revoke}
    store.propose_terms(conn, share["id"], json.dumps(proposal), now)
    store.record_terms(conn, share["id"], message.version, json.dumps(list(message.fields)),
                       message.on_revoke, now=now, accepted=False)


def accept(node: Node, conn: sqlite3.Connection, share: sqlite3.Row) -> int:
    """Subscriber: switch to the proposed terms, blank what they no longer grant, tell the
    granter."""
    proposal = json.loads(share["proposed"])
    now = normalize.now_iso()
    _narrow(conn, share, tuple(json.loads(share["fields"])), tuple(proposal["fields"]), now)
    fields = json.dumps(proposal["fields"])
    store.set_terms(conn, share["id"], version=proposal["version"], fields=fields,
                    on_revoke=proposal["on_revoke"], now=now)
    store.mark_terms_accepted(conn, share["id"], proposal["version"], now)
    _queue(conn, share["peer"], ShareTermsAccept(share=share["id"], version=proposal["version"]))
    node.audit("share.terms.accept", share=share["id"], version=proposal["version"])
    version: int = proposal["version"]
    return version


def _narrow(conn: sqlite3.Connection, share: sqlite3.Row, old: tuple[str, ...],
            new: tuple[str, ...], now: str) -> None:
    """Delete, on the copies received through this share, what the new terms drop and no
    other share from the same granter still grants."""
    still = set(new)
    for other in store.other_grants(conn, share["peer"], share["id"]):
        still.update(json.loads(other))
    dropped_columns = sorted(set(columns_for(old)) - set(columns_for(tuple(still))))
    people = [row["person"] for row in inbound.members_of(conn, share["id"]) if row["person"]]
    copies = [p["uuid"] for p in people_store.people_fields(conn, people).values()
              if p["origin"] == share["peer"]]
    inbound.clear_columns(conn, copies, dropped_columns, now)
    for kind in ("contacts", "donations"):
        if kind in old and kind not in still:
            inbound.drop_records_of(conn, kind, people, share["peer"])


def switch(node: Node, conn: sqlite3.Connection, share: sqlite3.Row, version: int) -> bool:
    """Granter: the subscriber accepted `version`; re-send everyone under it."""
    proposal = json.loads(share["proposed"]) if share["proposed"] else None
    if proposal is None or proposal["version"] != version:
        return False
    now = normalize.now_iso()
    store.set_terms(conn, share["id"], version=version, fields=json.dumps(proposal["fields"]),
                    on_revoke=proposal["on_revoke"], now=now)
    store.mark_terms_accepted(conn, share["id"], version, now)
    if share["status"] == "active":
        outbox.enqueue_tagged(conn, share["id"], share["tag_id"])
    node.audit("share.terms.accepted", share=share["id"], version=version)
    return True


def batch_fields(conn: sqlite3.Connection, share: sqlite3.Row, terms: int) -> tuple[str, ...]:
    """Subscriber: the fields a batch built under `terms` may carry."""
    if terms == share["terms_version"]:
        return tuple(json.loads(share["fields"]))
    recorded = None
    if terms < share["terms_version"]:
        recorded = store.terms_fields(conn, share["id"], terms)
    if recorded is None:
        raise MalformedMessage(f"batch built under terms {terms} this share never accepted")
    return tuple(json.loads(recorded))


def history(conn: sqlite3.Connection, share_id: str) -> list[dict[str, object]]:
    return [{"version": row["version"], "fields": json.loads(row["fields"]),
             "on_revoke": row["on_revoke"], "proposed_at": row["proposed_at"],
             "accepted_at": row["accepted_at"]} for row in store.terms_history(conn, share_id)]
