"""Attacks through the real server (in process: aiohttp on loopback, the real sync worker).

- A subscriber's share.batch (and revoke, terms) claiming the granter's outgoing
  share is refused 403 and changes nothing on the granter.
- The decrypted payloads (the worker's courier.send is wrapped, as in
  tests/integration/shares_helpers.py) never carry a field outside the terms they
  were built under, nor a person without the tag; after `share edit` narrows the
  fields and the subscriber accepts, batches carry only the narrower fields and the
  subscriber's copies lose the rest.
- Nothing arrives after a revoke: edits and new people after `share revoke` never
  reach the subscriber (checked after several sync intervals, in its database and in
  the sent messages), and a forged late batch applies nothing.
- Huge values (over 2,000 characters) are refused cleanly; unicode, RTL and
  SQL-looking names and tags survive the round trip byte for byte.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from shares_helpers import (
    TAG,
    Org,
    assert_unchanged,
    post_inbox,
    run_cli,
    sealed,
    settled,
    three_orgs,
    wait_until,
)

from tagshare.node import people as ops
from tagshare.node import shares
from tagshare.node.errors import InvalidInput
from tagshare.node.storage.people import PERSON_FIELDS
from tagshare.node.sync import IDLE_POLL
from tagshare.protocol import Item, ShareBatch, ShareRevoke, ShareTerms
from tagshare.protocol.encoding import b64u_encode
from tagshare.protocol.shares import MAX_VALUE_CHARS, columns_for

FULL = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org",
        "phone": "+16145550100", "address1": "1 Main St", "city": "Columbus", "state": "OH",
        "zip": "43215"}


def batch_for(share_id: str, epoch: str, uuid: str, **fields: str | None) -> ShareBatch:
    item = Item(op="upsert", uuid=uuid, version=10**9, fields=dict(fields), contacts=(),
                donations=())
    return ShareBatch(share=share_id, epoch=epoch, seq=10**6, terms=1, items=(item,))


async def quiet(*orgs: Org) -> None:
    """Let every worker finish its round (nothing owed anywhere)."""
    await wait_until(lambda: all(o.count("outbox") == 0 and o.count("pending") == 0
                                 for o in orgs), 10, "quiet")
    await asyncio.sleep(0.3)


async def test_subscriber_cannot_write_into_the_granters_share(tmp_path: Path) -> None:
    async with three_orgs(tmp_path) as trio:
        party, a = trio.party, trio.a
        person = party.add_person(**FULL)
        share_id = await trio.active(a)
        epoch = str(party.share(share_id)["epoch"])
        await quiet(party, a)
        before = party.snapshot()
        attempts = [
            batch_for(share_id, epoch, person, first_name="Hacked"),
            batch_for(share_id, epoch, "01a21cd2-0000-7000-8000-000000000001",
                      first_name="Planted"),
            ShareRevoke(share=share_id),
            ShareTerms(share=share_id, version=2, fields=("name",), on_revoke="keep"),
        ]
        for message in attempts:
            status, body = await post_inbox(party, sealed(a, party, message))
            assert status == 403, (message.TYPE, status, body)
            assert body["error"] == "forbidden"
        assert_unchanged(before, party.snapshot())
        assert party.status(share_id) == "active"
        assert party.value("SELECT first_name FROM people WHERE uuid = ?", (person,)) == "Ada"


async def test_payloads_never_exceed_the_grant_even_after_narrowing(tmp_path: Path) -> None:
    async with three_orgs(tmp_path) as trio:
        party, a = trio.party, trio.a
        tagged = [party.add_person(**{**FULL, "email": f"p{n}@example.org"}) for n in range(20)]
        outsider = party.add_person((), first_name="Not", last_name="Tagged",
                                    email="outsider@example.org")
        ops.add_contact(party.op, tagged[0], method="door", outcome="home", note="knocked",
                        at=None, by="canvasser")
        share_id = await trio.active(a)
        first_batches = len(party.batches())
        assert a.copy_of(party, tagged[0])["email"] == "p0@example.org"

        shares.edit_share(party.op, share_id, fields="name", on_revoke=None)
        await wait_until(lambda: a.share(share_id)["proposed"] is not None, 10, "new terms")
        shares.accept_share(a.op, share_id, None)
        await wait_until(lambda: party.share(share_id)["terms_version"] == 2, 10, "switch")
        for n, uuid in enumerate(tagged):
            party.edit(uuid, first_name=f"Edited{n}", email=f"new{n}@example.org",
                       city="Dayton")
        party.edit(outsider, first_name="StillNot")
        await settled(party, share_id)

        terms = {row["version"]: tuple(json.loads(row["fields"])) for row in party.query(
            "SELECT version, fields FROM share_terms WHERE share = ?", (share_id,))}
        batches = party.batches()
        narrowed = [b for b in batches if b.terms == 2]
        assert len(batches) > first_batches and narrowed, "no batch under the new terms"
        for batch in batches:
            granted = terms[batch.terms]
            for item in batch.items:
                assert item.uuid != outsider, "a person without the tag was sent"
                if item.op != "upsert":
                    continue
                assert set(item.fields or {}) <= set(columns_for(granted)), (batch.terms, item)
                assert (item.contacts is not None) == ("contacts" in granted)
                assert (item.donations is not None) == ("donations" in granted)
        for batch in narrowed:
            for item in batch.items:
                assert set(item.fields or {}) <= {"first_name", "last_name"}
                assert item.contacts is None and item.donations is None
        for n, uuid in enumerate(tagged):
            copy = a.copy_of(party, uuid)
            assert copy["first_name"] == f"Edited{n}"
            assert all(copy[c] is None for c in PERSON_FIELDS
                       if c not in ("first_name", "last_name")), dict(copy)
        assert a.count("contacts", "origin = ?", (party.node_id,)) == 0
        assert a.copy_of(party, outsider) is None


async def test_nothing_arrives_after_a_revoke(tmp_path: Path) -> None:
    async with three_orgs(tmp_path) as trio:
        party, a = trio.party, trio.a
        people = [party.add_person(first_name=f"P{n}", last_name="Shared") for n in range(10)]
        share_id = await trio.active(a)
        epoch = str(party.share(share_id)["epoch"])
        assert len(a.received_people(party)) == 10
        shares.revoke_share(party.op, share_id)
        await wait_until(lambda: a.status(share_id) == "revoked", 10, "the revoke arrives")
        sent_at_revoke = len(party.batches())
        assert len(a.received_people(party)) == 0  # on_revoke=purge

        for n, uuid in enumerate(people):
            party.edit(uuid, first_name=f"After{n}")
        party.add_person(first_name="New", last_name="AfterRevoke")
        ops.remove_tags(party.op, people[0], [TAG])
        ops.add_tags(party.op, people[0], [TAG])
        await asyncio.sleep(3 * IDLE_POLL)  # several looks for commits, however idle
        assert len(party.batches()) == sent_at_revoke, "a batch was sent after the revoke"
        assert party.pending(share_id) == 0
        assert len(a.received_people(party)) == 0
        assert a.count("received", "share = ? AND state = 'member'", (share_id,)) == 0

        # A late (or forged) batch of the revoked share, signed by the granter: applies nothing.
        before = a.snapshot()
        status, body = await post_inbox(a, sealed(party, a, batch_for(
            share_id, epoch, people[1], first_name="Late")))
        assert status == 200, body
        after = a.snapshot()
        after.pop("inbox_seen"), before.pop("inbox_seen")  # the message id is remembered
        assert_unchanged(before, after)


async def test_huge_values_are_refused_cleanly(tmp_path: Path) -> None:
    huge = "x" * (MAX_VALUE_CHARS + 500)
    async with three_orgs(tmp_path) as trio:
        party, a = trio.party, trio.a
        person = party.add_person(first_name="Normal", last_name="Person")
        share_id = await trio.active(a)
        epoch = str(party.share(share_id)["epoch"])
        with pytest.raises(InvalidInput):
            party.add_person(first_name=huge)
        with pytest.raises(InvalidInput):
            party.edit(person, last_name=huge)
        result = await run_cli(party, "people", "add", "--first-name", huge)
        assert result.exit_code == 1 and "longer than" in result.output
        assert "Traceback" not in result.output
        assert party.value("SELECT count(*) FROM people WHERE length(first_name) > 500") == 0

        # A granter (or a forger with its keys) sending a huge value: refused, nothing applied.
        raw = sealed(party, a, batch_for(share_id, epoch, person, first_name="ok")).to_bytes()
        envelope = json.loads(raw)
        await quiet(party, a)
        before = a.snapshot()
        tampered = dict(envelope, ciphertext=b64u_encode(os.urandom(64)))
        status, _ = await post_inbox(a, json.dumps(tampered).encode())
        assert status in (400, 401)
        assert_unchanged(before, a.snapshot())
        oversized = json.dumps({"share": share_id, "epoch": epoch, "seq": 5, "terms": 1,
                                "items": [{"op": "upsert", "uuid": person, "version": 10**6,
                                           "fields": {"first_name": huge}, "contacts": [],
                                           "donations": [], "ref": None, "chain": None,
                                           "relayed": []}]})
        with pytest.raises(Exception, match="at most"):
            ShareBatch.from_dict(json.loads(oversized))
        assert a.copy_of(party, person)["first_name"] == "Normal"


async def test_one_oversized_row_does_not_block_the_share(tmp_path: Path) -> None:
    async with three_orgs(tmp_path) as trio:
        party, a = trio.party, trio.a
        await trio.active(a)
        bad = party.add_person(first_name="Too", last_name="Long")
        party.execute("UPDATE people SET address1 = ? WHERE uuid = ?",
                      ("y" * (MAX_VALUE_CHARS + 1), bad))
        good = party.add_person(first_name="Fine", last_name="Person")
        await wait_until(lambda: a.copy_of(party, good) is not None, 5,
                         "the good person arrives", each=lambda: party.retry_now(a))


WEIRD_TAG = "vöter 🗳️ '); DROP TABLE tags;-- עברית"
WEIRD = [
    {"first_name": "Robert'); DROP TABLE people;--", "last_name": "Tables"},
    {"first_name": "🦄💥👩🏽‍🚀", "last_name": "Ünïcødé Ñandú", "city": "Zürich"},
    {"first_name": "\u202eمرحبا", "last_name": "שלום\u202c", "address1": "شارع ١٢٣"},
    {"first_name": "李小龍", "last_name": "O'Brien \"quoted\" \\ back\\slash",
     "address2": "%_ LIKE * ? ; --"},
    {"first_name": "x" * 500, "last_name": "y" * 500, "city": "z" * 500},
]


async def test_unicode_and_sql_looking_values_round_trip(tmp_path: Path) -> None:
    async with three_orgs(tmp_path) as trio:
        party, a = trio.party, trio.a
        uuids = [party.add_person((WEIRD_TAG,), **fields) for fields in WEIRD]
        share_id = await trio.active(a, tag=WEIRD_TAG)
        for uuid, fields in zip(uuids, WEIRD, strict=True):
            copy = a.copy_of(party, uuid)
            assert copy is not None
            for key, value in fields.items():
                assert copy[key] == value.strip(), key
            assert any(WEIRD_TAG in tag for tag in a.tags_of(copy["uuid"]))
        assert party.status(share_id) == "active"
        for org in (party, a):
            tables = {r[0] for r in org.query("SELECT name FROM sqlite_master")}
            assert {"people", "tags", "taggings"} <= tables
            assert org.value("PRAGMA integrity_check") == "ok"
