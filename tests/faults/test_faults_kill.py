"""kill -9 of the sender, then of the subscriber, during an initial sync and live edits.

Half the kills (rounded up) land during the initial sync of N people, each
when the subscriber has applied a random share of them (seeded), plus a
random few milliseconds, so the victim is cut between batches, inside an
apply, or between an ack and its settlement. The rest land at random moments
while a thread of the test process edits, untags, re-tags, adds and erases
shared people on the sender. The victim restarts on the same port after
each kill. Afterwards the subscriber must hold exactly the sender's shared
state, field by field, and both databases must pass `PRAGMA integrity_check`.

The initial sync goes in snapshot chunks (node/snapshot.py: up to 5,000 people per
batch instead of 1,000), so the kills cut chunked syncs: each run checks that batches
of more than 1,000 people were in flight.

Short (default): N=20,000, K=3. Long: N=50,000, K=20 with TAGSHARE_LONG_FAULTS=1.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest
from fault_helpers import (
    SCALES,
    SEED,
    Editor,
    Scale,
    ServeNode,
    assert_converged,
    grant_and_accept,
    load_people,
    nodes,
    pair,
    wait_for,
)

from tagshare.node.outgoing import BATCH_ITEMS


def applied(subscriber: ServeNode, share_id: str) -> int:
    return int(subscriber.value("SELECT count(*) FROM received WHERE share = ?", (share_id,)))


def largest_in_flight(sender: ServeNode, share_id: str) -> int:
    """The most people one batch of the share carries right now (rows in flight under
    one sequence number): over BATCH_ITEMS only for a snapshot chunk."""
    return int(sender.value(
        "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM pending "
        "WHERE share = ? AND inflight > 0 GROUP BY inflight)", (share_id,)))


def restart(victim: ServeNode, sender: ServeNode) -> None:
    victim.kill9()
    victim.start()
    # The sender backed off while its peer (or itself) was down; skip the wait, not the retry.
    sender.execute("UPDATE delivery SET next_attempt = 0")


def run_kills(victim: ServeNode, sender: ServeNode, subscriber: ServeNode, scale: Scale,
              seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    sender.start()
    subscriber.start()
    pair(sender, subscriber)
    people = load_people(sender, scale.people, rng)
    share_id = grant_and_accept(sender, subscriber)
    budget = 60 + scale.people / 250

    during_sync = (scale.kills + 1) // 2
    mid_sync = largest = 0
    wait_for(lambda: sender.status(share_id) == "active", budget, "the accept")

    def progressed(fraction: float) -> bool:
        nonlocal largest
        if sender.running:
            largest = max(largest, largest_in_flight(sender, share_id))
        return (applied(subscriber, share_id) >= fraction * scale.people
                or sender.pending(share_id) == 0)

    for fraction in sorted(rng.uniform(0.02, 0.66) for _ in range(during_sync)):
        wait_for(lambda f=fraction: progressed(f), budget, "initial sync progress", every=0.002)
        time.sleep(rng.uniform(0, 0.03))
        mid_sync += sender.pending(share_id) > 0
        restart(victim, sender)

    editor = Editor(sender, random.Random(seed + 1), list(people))
    stop = threading.Event()
    failures: list[BaseException] = []

    def edit() -> None:
        try:
            while not stop.is_set():
                editor.one()
                time.sleep(0.002)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    thread = threading.Thread(target=edit, daemon=True)
    thread.start()
    try:
        for _ in range(scale.kills - during_sync):
            time.sleep(rng.uniform(0.1, 0.8))
            restart(victim, sender)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not failures, f"an operator edit failed: {failures[0]!r}"
    sender.execute("UPDATE delivery SET next_attempt = 0")
    diff = assert_converged(sender, subscriber, share_id, budget)
    assert sender.integrity() == "ok"
    assert subscriber.integrity() == "ok"
    return {"kills": victim.kills, "mid_initial_sync": mid_sync, "largest_batch": largest,
            "edits": editor.done,
            "kinds": editor.kinds, "people": diff["people"]}


@pytest.mark.parametrize("scale", SCALES)
def test_sender_killed_during_sync_and_edits_loses_nothing(tmp_path: Path, scale: Scale) -> None:
    with nodes(tmp_path, "sender", "subscriber") as (sender, subscriber):
        report = run_kills(sender, sender, subscriber, scale, SEED)
    assert report["kills"] == scale.kills
    assert report["largest_batch"] > BATCH_ITEMS, "the first sync went without chunks"
    print(f"\nsender kill -9: {report}")


@pytest.mark.parametrize("scale", SCALES)
def test_subscriber_killed_while_applying_loses_nothing(tmp_path: Path, scale: Scale) -> None:
    with nodes(tmp_path, "sender", "subscriber") as (sender, subscriber):
        report = run_kills(subscriber, sender, subscriber, scale, SEED + 100)
    assert report["kills"] == scale.kills
    assert report["largest_batch"] > BATCH_ITEMS, "the first sync went without chunks"
    print(f"\nsubscriber kill -9: {report}")
