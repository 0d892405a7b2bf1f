"""Delivery through outages: an offline peer, pulling subscribers, a subscriber or a sender
that goes down and comes back, and `tagshare sync` run from cron.

Backoff is real (seconds); where a test has waited long enough for a node to
come back it cancels the backoff by setting `delivery.next_attempt = 0` in the
granter's database, as an operator with `sqlite3` could.
"""

from __future__ import annotations

from pathlib import Path

from shares_helpers import (
    TAG,
    Org,
    Trio,
    cli_json,
    run_cli,
    settled,
    three_orgs,
    wait_until,
)

from tagshare.node import people, shares
from tagshare.protocol import ShareBatch


def delivery(granter: Org, peer: Org) -> dict[str, object] | None:
    rows = granter.query("SELECT * FROM delivery WHERE peer = ?", (peer.node_id,))
    return dict(rows[0]) if rows else None


async def test_a_grant_to_an_offline_peer_arrives_when_it_comes_back(tmp_path: Path) -> None:
    async with three_orgs(tmp_path, start_b=False) as trio:
        party, b = trio.party, trio.b
        ann = party.add_person(first_name="Ann", email="ann@example.org")
        share_id = party.grant(b, fields="name,email")

        failed = await wait_until(lambda: (d := delivery(party, b)) and d["last_error"] and d,
                                  message="the party tries and fails")
        assert failed["attempts"] >= 1
        assert failed["next_attempt"] > 0
        shown = shares.show_share(party.op, share_id)
        assert shown["status"] == "offered"
        assert shown["sync"]["last_error"]
        assert shown["sync"]["next_retry"]
        assert party.count("outbox") == 1  # the offer waits

        await b.start()
        await wait_until(lambda: b.status(share_id) == "offered", message="the offer arrives",
                         each=lambda: party.retry_now(b))
        await wait_until(lambda: party.count("outbox") == 0, message="the offer is acked")
        shares.accept_share(b.op, share_id, None)
        await settled(party, share_id)
        row = await wait_until(lambda: b.copy_of(party, ann), message="Ann arrives")
        assert row["first_name"] == "Ann"
        healed = delivery(party, b)
        assert healed is not None
        assert (healed["attempts"], healed["last_error"], healed["next_attempt"]) == (0, None, 0)
        assert shares.show_share(party.op, share_id)["sync"]["last_error"] is None


async def _pulled_share(trio: Trio) -> tuple[str, list[str]]:
    party, b = trio.party, trio.b
    uuids = [party.add_person(first_name=f"P{i}", email=f"p{i}@example.org") for i in range(3)]
    share_id = party.grant(b, fields="name,email")
    await wait_until(lambda: b.status(share_id) == "offered", message="the offer reaches B")
    shares.accept_share(b.op, share_id, None)
    await wait_until(lambda: party.status(share_id) == "active", message="the party is told")
    assert party.share(share_id)["pull"] == 1  # ShareAccept said: pull, do not push
    await wait_until(lambda: len(b.received_people(party)) == 3, message="B pulls everyone")
    party.edit(uuids[0], first_name="Pat")
    await wait_until(lambda: b.copy_of(party, uuids[0])["first_name"] == "Pat",
                     message="B pulls the edit")
    await settled(party, share_id)  # the pulled batches were acknowledged
    assert b.count("people") == 3
    for row in b.received_people(party).values():
        assert b.tags_of(row["uuid"]) == {f"{party.slug}:{TAG}"}
    # The party never pushed a batch of this share.
    assert [m for m in party.sent if isinstance(m, ShareBatch) and m.share == share_id] == []
    return share_id, uuids


async def test_a_subscriber_that_only_pulls_gets_its_data_without_pushes(tmp_path: Path) -> None:
    """B: `init` without `--url` (reachable=False), sync worker in pull mode, still listening."""
    async with three_orgs(tmp_path, pull_b=True) as trio:
        assert not trio.b.op.config.reachable
        await _pulled_share(trio)


async def test_a_node_nobody_can_reach_receives_offers_batches_and_revokes(
        tmp_path: Path) -> None:
    """B opens no port at all (`serve --no-listen`): even the offer and the revoke are pulled."""
    async with three_orgs(tmp_path, pull_b=True, b_listens=False) as trio:
        party, b = trio.party, trio.b
        share_id, uuids = await _pulled_share(trio)
        shares.revoke_share(party.op, share_id)
        await wait_until(lambda: b.status(share_id) == "revoked", message="B pulls the revoke")
        await wait_until(lambda: party.count("outbox") == 0, message="the revoke is acked")
        assert b.received_people(party) == {}  # on_revoke=purge (the default)


async def test_a_healthy_pull_share_reports_no_error(tmp_path: Path) -> None:
    async with three_orgs(tmp_path, pull_b=True, b_listens=False) as trio:
        party = trio.party
        share_id, _ = await _pulled_share(trio)
        sync = shares.show_share(party.op, share_id)["sync"]
        assert sync["pending"] == 0
        assert sync["last_delivery_at"]
        assert sync["last_error"] is None, sync["last_error"]
        assert sync["next_retry"] is None


async def test_subscriber_down_then_back_gets_everything_once(trio: Trio) -> None:
    party, a = trio.party, trio.a
    share_id = await trio.active(a, fields="all")
    uuids = [party.add_person(first_name=f"P{i}", email=f"p{i}@example.org") for i in range(5)]
    await wait_until(lambda: len(a.received_people(party)) == 5, message="all five arrive")
    await settled(party, share_id)

    await a.stop()
    for change in range(20):
        uuid = uuids[change % 5]
        party.edit(uuid, first_name=f"P{change % 5}-v{change // 5}", city=f"City {change}")
    people.add_contact(party.op, uuids[0], method="door", outcome=None, note=None, at=None,
                       by=None)
    # One pending row per changed person, not one per change.
    assert party.pending(share_id) == 5
    rows = party.query("SELECT person, version FROM pending WHERE share = ?", (share_id,))
    assert {row["person"] for row in rows} == set(uuids)
    owed = {row["person"]: row["version"] for row in rows}

    await a.start()
    await wait_until(lambda: party.pending(share_id) == 0, 15, "everything delivered",
                     each=lambda: party.retry_now(a))
    await settled(party, share_id)
    assert a.count("people") == 5
    assert a.count("people", "origin = ?", (party.node_id,)) == 5
    final = a.received_people(party)
    for index, uuid in enumerate(uuids):
        assert final[uuid]["first_name"] == f"P{index}-v3"
        assert final[uuid]["city"] == f"City {15 + index}"
        assert a.received(share_id, uuid)["version"] == owed[uuid]
    assert a.count("contacts") == 1
    assert a.count("received", "share = ?", (share_id,)) == 5


async def test_sender_stopped_and_restarted_with_pending_items(trio: Trio) -> None:
    party, a = trio.party, trio.a
    share_id = await trio.active(a, fields="name,email")
    uuids = [party.add_person(first_name=f"P{i}", email=f"p{i}@example.org") for i in range(3)]
    await wait_until(lambda: len(a.received_people(party)) == 3, message="all three arrive")
    await settled(party, share_id)

    await party.stop()
    party.edit(uuids[0], first_name="Zero")
    party.edit(uuids[1], first_name="One")
    people.remove_tags(party.op, uuids[2], [TAG])
    new = [party.add_person(first_name=f"N{i}", email=f"n{i}@example.org") for i in range(2)]
    assert party.pending(share_id) == 5
    # As if the worker had died with a batch in flight.
    party.execute("UPDATE pending SET inflight = 7 WHERE share = ? AND person IN (?, ?)",
                  (share_id, uuids[0], new[0]))

    await party.start()
    await settled(party, share_id)
    final = a.received_people(party)
    assert set(final) == {uuids[0], uuids[1], *new}
    assert final[uuids[0]]["first_name"] == "Zero"
    assert final[uuids[1]]["first_name"] == "One"
    assert a.count("people") == 4
    assert a.received(share_id, uuids[2])["state"] == "withdrawn"


async def test_cli_sync_delivers_pending_items_without_a_server(trio: Trio) -> None:
    party, a = trio.party, trio.a
    share_id = await trio.active(a, fields="name,email")
    ann = party.add_person(first_name="Ann", email="ann@example.org")
    await wait_until(lambda: a.copy_of(party, ann), message="Ann arrives")
    await settled(party, share_id)

    await party.stop()  # from now on only `tagshare sync` (cron) delivers
    party.edit(ann, first_name="Annie")
    bob = party.add_person(first_name="Bob", email="bob@example.org")
    assert party.pending(share_id) == 2

    report = cli_json(await run_cli(party, "sync", "--peer", a.name, "--json"))
    assert report["errors"] == {}
    assert report["delivered"] == {a.node_id: 2}
    assert party.pending(share_id) == 0
    assert a.copy_of(party, ann)["first_name"] == "Annie"
    assert a.copy_of(party, bob)["email"] == "bob@example.org"
    assert a.count("people") == 2
    # Nothing more is owed; a second run delivers nothing.
    again = cli_json(await run_cli(party, "sync", "--peer", a.name, "--json"))
    assert again["delivered"].get(a.node_id, 0) == 0
    assert again["errors"] == {}

