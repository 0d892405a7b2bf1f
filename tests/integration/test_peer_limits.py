"""Bounded work per peer (issue 11, item 5), driven at the message level with real keys.

- offers: at most MAX_PENDING_OFFERS of one peer's offers wait here; the next is
  refused 429 `rate_limited` and stored nowhere; once the operator declines one, the
  granter's retry is taken;
- withdraws and erases of uuids the share never brought: acknowledged, no tombstone,
  a `received` row only for UNSEEN_RETENTION, at most MAX_UNSEEN_PER_SHARE per share
  (past it 429 and nothing changes);
- resyncs: one full resend per share per RESYNC_INTERVAL; asking again while it runs
  queues nothing, asking again after it finished is refused 429.
"""

from __future__ import annotations

import os
from typing import Any

from shares_helpers import (
    TAG,
    Org,
    Trio,
    assert_unchanged,
    make_batch,
    run_cli,
    send_as,
    settled,
    wait_until,
)

from tagshare.node.ids import uuid7
from tagshare.node.limits import MAX_PENDING_OFFERS, MAX_UNSEEN_PER_SHARE, UNSEEN_RETENTION
from tagshare.protocol import Item, ShareOffer, ShareResync, b64u_encode
from tagshare.protocol.reshare import make_grant
from tagshare.protocol.shares import MAX_ITEMS


def offer(party: Org, to: Org, note: str = "") -> ShareOffer:
    share = uuid7()
    grant = make_grant(party.op.keys, (), subscriber=to.node_id, share=share, tag=TAG,
                       fields=("name",), on_revoke="purge", reshare="none")
    return ShareOffer(share=share, tag=TAG, fields=("name",), on_revoke="purge", note=note,
                      epoch=b64u_encode(os.urandom(16)), reshare="none", grant=grant)


async def quiet(*orgs: Org) -> None:
    await wait_until(lambda: all(o.count("outbox") == 0 and o.count("pending") == 0
                                 for o in orgs), message="nothing owed")


async def test_pending_offers_per_peer_are_capped(trio: Trio) -> None:
    party, a = trio.party, trio.a
    granted = [party.grant(a, tag=f"list-{n}") for n in range(MAX_PENDING_OFFERS)]
    await wait_until(lambda: a.count("shares", "status = 'offered'") == MAX_PENDING_OFFERS,
                     message="the offers arrive")
    await quiet(party, a)
    before = a.snapshot()
    status, body = await send_as(party, a, offer(party, a, "one too many"))
    assert (status, body["error"]) == (429, "rate_limited"), body
    assert "accepted or declined" in body["message"]
    long_note = offer(party, a)
    object.__setattr__(long_note, "note", "x" * 2001)  # past what our own code would build
    status, body = await send_as(party, a, long_note)  # the note is capped too
    assert (status, body["error"]) == (400, "malformed"), body
    assert_unchanged(before, a.snapshot())

    # An honest granter's next offer waits on its side, retried, until there is room.
    extra = party.grant(a, tag="one-more")
    await wait_until(lambda: "rate_limited" in (party.value(
        "SELECT last_error FROM delivery WHERE peer = ?", (a.node_id,)) or ""),
        message="the granter is told to wait")
    assert a.share(extra) is None and party.status(extra) == "offered"
    declined = await run_cli(a, "share", "decline", granted[0])
    assert declined.exit_code == 0, declined.output
    await wait_until(lambda: a.status(extra) == "offered", each=lambda: party.retry_now(a),
                     message="the waiting offer is taken")
    await wait_until(lambda: party.status(granted[0]) == "declined", message="decline arrives")
    await quiet(party, a)


def erases(count: int) -> list[Item]:
    return [Item(op="erase" if n % 2 else "withdraw", uuid=uuid7(), version=10**9)
            for n in range(count)]


async def test_erasing_strangers_leaves_no_tombstone_and_is_capped(trio: Trio) -> None:
    party, a = trio.party, trio.a
    ann = party.add_person(first_name="Ann", email="ann@example.org")
    share_id = await trio.active(a, fields="name,email")
    await wait_until(lambda: a.copy_of(party, ann), message="Ann arrives")
    await quiet(party, a)
    seq = int(party.share(share_id)["seq"]) + 1
    for offset in range(MAX_UNSEEN_PER_SHARE // MAX_ITEMS):
        status, detail = await send_as(party, a, make_batch(party, share_id, seq + offset,
                                                            erases(MAX_ITEMS)))
        assert status == 200 and detail["applied"] == MAX_ITEMS, detail
    assert a.count("tombstones") == 0
    assert a.count("received", "unseen_at IS NOT NULL") == MAX_UNSEEN_PER_SHARE
    assert a.copy_of(party, ann) is not None

    before = a.snapshot()
    status, body = await send_as(party, a, make_batch(party, share_id, seq + 10, erases(1)))
    assert (status, body["error"]) == (429, "rate_limited"), body
    assert_unchanged(before, a.snapshot())

    # Once no batch sent before them can arrive any more, they are forgotten.
    a.execute("UPDATE received SET unseen_at = unseen_at - ? WHERE unseen_at IS NOT NULL",
              (UNSEEN_RETENTION + 1,))
    status, detail = await send_as(party, a, make_batch(party, share_id, seq + 11, erases(1)))
    assert status == 200 and detail["applied"] == 1, detail
    assert a.count("received", "unseen_at IS NOT NULL") == 1
    assert a.count("tombstones") == 0
    # Erasing someone the share did bring still leaves a tombstone.
    status, detail = await send_as(party, a, make_batch(
        party, share_id, seq + 12, [Item(op="erase", uuid=ann, version=10**9)]))
    assert status == 200 and detail["applied"] == 1, detail
    assert a.copy_of(party, ann) is None and a.count("tombstones") == 1


def resend_state(org: Org, share_id: str) -> dict[str, Any]:
    """What a full resend changes on the granter (the worker's own marks aside)."""
    share = org.share(share_id)
    assert share is not None
    return {"epoch": share["epoch"], "resync_epoch": share["resync_epoch"],
            "resync_at": share["resync_at"],
            "pending": sorted((r[0], r[1]) for r in org.query(
                "SELECT person, version FROM pending WHERE share = ?", (share_id,))),
            "counter": org.value("SELECT value FROM counters WHERE name = 'change'")}


async def test_resyncs_are_rate_limited_per_share(trio: Trio) -> None:
    party, a = trio.party, trio.a
    for name in ("Ann", "Bo", "Cy"):
        party.add_person(first_name=name, email=f"{name}@example.org")
    share_id = await trio.active(a, fields="name,email")
    await a.stop()  # the resend cannot finish while A is away

    status, detail = await send_as(a, party, ShareResync(share=share_id))
    assert status == 200 and detail["queued"] == 3, detail
    running = resend_state(party, share_id)
    assert running["resync_epoch"] is not None and len(running["pending"]) == 3
    for _ in range(49):
        status, detail = await send_as(a, party, ShareResync(share=share_id))
        assert status == 200 and detail["queued"] == 0, detail
    assert resend_state(party, share_id) == running

    await a.start()
    await wait_until(lambda: party.share(share_id)["resync_epoch"] is None,
                     each=lambda: party.retry_now(a), message="the resend completes")
    await settled(party, share_id)
    finished = resend_state(party, share_id)
    status, body = await send_as(a, party, ShareResync(share=share_id))
    assert (status, body["error"]) == (429, "rate_limited"), body
    assert "ask again after" in body["message"]
    assert resend_state(party, share_id) == finished

    party.execute("UPDATE shares SET resync_at = '2020-01-01T00:00:00.000Z' WHERE id = ?",
                  (share_id,))
    status, detail = await send_as(a, party, ShareResync(share=share_id))
    assert status == 200 and detail["queued"] == 3, detail
