"""A fault-injecting proxy between the sender and the subscriber (tests/faults/proxy.py).

The sender's `peers.url` for the subscriber is pointed at the proxy (an
UPDATE on the sender's database while the sender is stopped); the subscriber
still reaches the sender directly. Through the proxy run an initial sync and
a stream of live edits, with one fault mode at a time and then all of them
mixed; the subscriber must end up with exactly the sender's shared state.

A failed delivery backs the peer off (2 s, 4 s, ...); the test sets
`delivery.next_attempt` to 0 every half second so the run takes seconds,
not minutes: the retry itself is the sender's own.

Short (default): 1,000 people, 150 edits per mode. Long (TAGSHARE_LONG_FAULTS=1):
10,000 people, 1,500 edits per mode.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest
from fault_helpers import (
    LONG,
    SEED,
    Editor,
    ServeNode,
    assert_converged,
    grant_and_accept,
    load_people,
    nodes,
    pair,
)
from proxy import FaultPlan, ProxyThread

PEOPLE = 10_000 if LONG else 1_000
EDITS = 1_500 if LONG else 150
PLANS = {
    "drop": FaultPlan(drop=0.3),
    "delay": FaultPlan(delay=0.5),
    "truncate": FaultPlan(truncate=0.3),
    "cut": FaultPlan(cut=0.3),
    "mixed": FaultPlan(drop=0.1, delay=0.1, truncate=0.1, cut=0.1),
}


def retry_often(sender: ServeNode, stop: threading.Event) -> None:
    while not stop.wait(0.5):
        sender.execute("UPDATE delivery SET next_attempt = 0")


@pytest.mark.parametrize("mode", list(PLANS))
def test_faulty_network_loses_nothing(tmp_path: Path, mode: str) -> None:
    template = PLANS[mode]
    plan = FaultPlan(drop=template.drop, delay=template.delay, truncate=template.truncate,
                     cut=template.cut, seed=SEED)
    rng = random.Random(SEED)
    with nodes(tmp_path, "sender", "subscriber") as (sender, subscriber), \
            ProxyThread(subscriber.port, plan) as proxy:
        sender.start()
        subscriber.start()
        pair(sender, subscriber)
        sender.stop()
        sender.execute("UPDATE peers SET url = ? WHERE node_id = ?",
                       (proxy.url, subscriber.node_id))
        sender.start()
        people = load_people(sender, PEOPLE, rng)
        share_id = grant_and_accept(sender, subscriber)

        stop = threading.Event()
        retrier = threading.Thread(target=retry_often, args=(sender, stop), daemon=True)
        retrier.start()
        editor = Editor(sender, random.Random(SEED + 1), list(people))
        try:
            for _ in range(EDITS):
                editor.one()
                time.sleep(0.005)
            diff = assert_converged(sender, subscriber, share_id, 60 + PEOPLE / 100)
        finally:
            stop.set()
            retrier.join(timeout=10)
        counts = proxy.counts
    faults = sum(counts.get(m, 0) for m in ("drop", "delay", "truncate", "cut"))
    assert faults > 0, f"no fault was injected: {counts}"
    assert sender.integrity() == "ok" and subscriber.integrity() == "ok"
    print(f"\nproxy {mode}: requests {counts}, edits {editor.kinds}, people {diff['people']}")
