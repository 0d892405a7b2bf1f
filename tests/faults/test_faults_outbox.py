"""The outbox through a long outage, in process (real aiohttp servers on loopback and the
real sync worker, as in tests/integration/shares_helpers.py).

The subscriber is down while 10,000 changes happen to 1,000 shared people (ten
edits each). The sender's `pending` table must hold one row per changed person,
not one per change; its `delivery` row must show the backoff growing to the cap
over simulated hours (the worker's clock is injected: SyncWorker.clock); the
subscriber comes back and converges to the latest value of every person.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from fault_helpers import SEED, person_row
from shares_helpers import TAG, Org, three_orgs, wait_until

from tagshare.node import people as ops
from tagshare.node.storage import db
from tagshare.node.storage import people as people_store
from tagshare.node.storage.people import PERSON_FIELDS
from tagshare.node.sync import FIRST_RETRY, MAX_RETRY

PEOPLE = 1_000
ROUNDS = 10


def load(org: Org, count: int) -> list[str]:
    rng = random.Random(SEED)
    rows = [person_row(rng, n) for n in range(count)]
    conn = org.op.conn
    with db.transaction(conn):
        tag_id = people_store.tag_id(conn, TAG, create=True) or 0
        people_store.insert_people(conn, rows)
        people_store.add_taggings(conn, [(tag_id, str(r["uuid"])) for r in rows])
    return [str(r["uuid"]) for r in rows]


def fields_of(org: Org, where: str, params: tuple[object, ...]) -> dict[str, tuple[object, ...]]:
    cols = ", ".join(PERSON_FIELDS)
    return {row[0]: tuple(row[1:]) for row in
            org.query(f"SELECT {{key}}, {cols} FROM people WHERE {where}".replace(
                "{key}", "origin_uuid" if "origin =" in where else "uuid"), params)}


async def test_long_outage_collapses_and_converges(tmp_path: Path) -> None:
    async with three_orgs(tmp_path) as trio:
        party, a = trio.party, trio.a
        uuids = load(party, PEOPLE)
        share_id = await trio.active(a)
        assert len(a.received_people(party)) == PEOPLE

        fake = [time.time()]
        party.worker.clock = lambda: fake[0]
        await a.stop()

        conn = party.op.conn
        for round_ in range(ROUNDS):
            with db.transaction(conn):
                for n, uuid in enumerate(uuids):
                    people_store.update_person(conn, uuid, {"first_name": f"R{round_}-{n}",
                                                            "city": f"City {round_}"}, "now")
        changes = int(party.value("SELECT value FROM counters WHERE name = 'change'"))
        assert changes >= PEOPLE * ROUNDS

        # One row per changed person, carrying the latest change, none in flight.
        await wait_until(lambda: party.value(
            "SELECT attempts FROM delivery WHERE peer = ?", (a.node_id,)), 10,
            "a failed delivery")
        assert party.pending(share_id) == PEOPLE
        assert party.value("SELECT count(DISTINCT person) FROM pending WHERE share = ?",
                           (share_id,)) == PEOPLE
        assert party.count("pending", "inflight IS NOT NULL") == 0

        # Hours of backoff, simulated: each time the clock passes next_attempt the worker
        # retries, fails, and backs off longer, up to the cap.
        delays: list[float] = []
        for _ in range(16):
            row = party.query("SELECT attempts, next_attempt FROM delivery WHERE peer = ?",
                              (a.node_id,))[0]
            delays.append(row["next_attempt"] - fake[0])
            fake[0] = row["next_attempt"] + 1
            party.worker.wake()  # else it notices the new time at its next idle round (1 s)
            await wait_until(lambda n=row["attempts"]: party.value(
                "SELECT attempts FROM delivery WHERE peer = ?", (a.node_id,)) > n, 10,
                "a retry after the backoff")
        assert FIRST_RETRY * 0.75 <= delays[0] <= FIRST_RETRY * 1.25 * 2
        assert max(delays) <= MAX_RETRY * 1.25
        assert max(delays) >= MAX_RETRY * 0.75, delays
        assert sum(delays) > 4 * 3600, f"only {sum(delays):.0f}s of outage simulated"
        assert party.pending(share_id) == PEOPLE
        assert party.count("pending", "inflight IS NOT NULL") == 0
        assert party.value("SELECT parked FROM delivery WHERE peer = ?", (a.node_id,)) == 0

        await a.start()
        fake[0] = float(party.value("SELECT next_attempt FROM delivery WHERE peer = ?",
                                    (a.node_id,))) + 1
        party.worker.wake()
        want = fields_of(party, "origin IS NULL", ())

        def converged() -> bool:
            return (party.pending(share_id) == 0
                    and fields_of(a, "origin = ?", (party.node_id,)) == want)

        await wait_until(converged, 30, "the subscriber catches up")
        # The delivery records its success (attempts back to 0) just after its last batch
        # is settled, in the next transaction.
        await wait_until(lambda: party.value(
            "SELECT attempts FROM delivery WHERE peer = ?", (a.node_id,)) == 0, 10,
            "the backoff is reset after the successful delivery")
        print(f"\noutage: {changes} changes to {PEOPLE} people, {len(delays)} retries over "
              f"{sum(delays) / 3600:.1f} simulated hours, pending held {PEOPLE} rows")


async def test_retag_while_pending_reaches_the_subscriber(tmp_path: Path) -> None:
    async with three_orgs(tmp_path) as trio:
        party, a = trio.party, trio.a
        person = party.add_person(first_name="Rita", last_name="Retag")
        share_id = await trio.active(a)
        assert a.copy_of(party, person) is not None
        await a.stop()
        ops.remove_tags(party.op, person, [TAG])  # pending: withdraw
        before = party.value("SELECT version FROM pending WHERE person = ?", (person,))
        ops.add_tags(party.op, person, [TAG])  # pending must now carry a newer change
        after = party.value("SELECT version FROM pending WHERE person = ?", (person,))
        await a.start()
        party.retry_now(a)
        await wait_until(lambda: party.pending(share_id) == 0, 20, "delivery",
                         each=lambda: party.retry_now(a))
        assert after > before, "the re-tag left no newer pending change"
        assert a.copy_of(party, person) is not None, "the subscriber dropped a tagged person"
